"""The record model every source yields into, and the one table of allele codes.

A source turns its format into records of one region: chrom, pos, ref, alts, and the calls of
every sample in file order, in cyvcf2's `genotype.array()` layout ((samples, ploidy + 1) int16:
allele indices, -1 missing, -2 for the absent second allele of a haploid call, last column the
phased flag) or, on a fast path, straight as model allele codes. It hands them to a
`RecordSink`, which the aligner implements: sources never import the aligner, and the aligner
never knows a format.

Model allele codes: 0 = the model's REF, 1 = its ALT, -1 missing, -2 another allele (the sink
turns a call holding one into missing and counts it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from ..errors import InputError
from ..variants import VariantList

GENOTYPE_FIELDS = ("GT", "DS", "GP")
EXACT_LUT = np.array([0, 1], dtype=np.int8)  # a record whose REF and ALT are the model's
SWAPPED_LUT = np.array([1, 0], dtype=np.int8)  # a record whose REF is the model's ALT and back


@dataclass(frozen=True)
class SourceHeader:
    """What a genotype file says about itself, parsed once per tile."""

    samples: list[str]
    contigs: list[str]
    fields: frozenset[str]  # per-call fields: FORMAT IDs (GT, DS, GP, ...)


class RecordSink(Protocol):
    """Where a source puts the records of a region (implemented by the aligner).

    `order` holds the file's sample columns in output order; `by_pos` the model's variant
    indices at each position. A record no variant is at is `skip`ped; any other record goes
    through `candidates` (or, for an exact biallelic match found on a fast path, `claim_exact`/
    `claim_one`), and the calls of each claimed variant go to `fill_codes`/`fill_valid` (a
    source may first write them into the rows `destination` gives).
    """

    order: np.ndarray
    variants: VariantList
    by_pos: dict[int, list[int]]
    genotype_field: str
    dosage: np.ndarray | None  # (variants, samples) when a dosage field is read, else None
    quality: np.ndarray | None  # per variant: the record's imputation quality, when wanted
    threads: int  # threads the reading may use (2 and more: conversion beside the reads)

    def exact_alleles(self) -> dict[tuple[int, str, str], int]:
        """(pos, ref, alt) of each variant alone at its position -> its index."""

    def skip(self) -> None:
        """Count a record that no model variant is at."""

    def claim_exact(self, js: list[int], labels: list[tuple]) -> list[bool]:
        """Take records as exact matches of variants `js`; False where one must be weighed."""

    def claim_one(self, j: int, label: tuple, kind: str = "exact") -> bool:
        """`claim_exact` for one record, exact or (`kind`) swapped."""

    def candidates(
        self, pos: int, rec_alleles: list[str], label: tuple
    ) -> list[tuple[int, str, np.ndarray]]:
        """Model variants a record supplies, as (index, kind, allele lookup table)."""

    def destination(self, js: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Writable (codes, phased) rows of consecutive variants `js`, else None."""

    def span_rows(self, js: list[int], at: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Writable (codes, phased) rows js[0] .. js[0] + at[-1] when variant js[k] is row
        js[0] + at[k] and none is stored yet, else None."""

    def store_in_place(self, js: list[int], counts: np.ndarray) -> None:
        """Take the model codes written into the rows of variants `js` through `span_rows`."""

    def write_columns(
        self, js: list[int], cols: slice, codes: np.ndarray, phased: np.ndarray, at: list[int]
    ) -> None:
        """Put allele indices (rows `at` of `codes`, `phased`) of variants `js` for samples
        `cols` into their rows."""

    def rows(self, js: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The (codes, phased) rows of variants `js` (views when consecutive)."""

    def fill_codes(
        self,
        js: list[int],
        codes: np.ndarray,
        phased: np.ndarray,
        may_have_other: bool = True,
        haploid: np.ndarray | None = None,
    ) -> None:
        """Store (records, samples, 2) model codes of variants `js` (samples in output order)."""

    def store_counted(
        self, js: list[int], codes: np.ndarray, phased: np.ndarray, counts: np.ndarray
    ) -> None:
        """Store model codes of distinct variants `js` with their known (records, 4) counts."""

    def fill_valid(
        self, js: list[int], codes: np.ndarray, phased: np.ndarray, valid: np.ndarray
    ) -> np.ndarray:
        """Store the rows `valid` marks; return the indices of the others."""

    def missing_field(self) -> None:
        """Count a record that lacks the genotype field."""

    def fill_dosage(
        self, j: int, kind: str, rec_alleles: list[str], lut: np.ndarray, values: np.ndarray | None
    ) -> None:
        """Store variant `j`'s model-ALT dosage from a record's DS or GP values (output order)."""


@lru_cache(maxsize=16)
def constant(shape: tuple[int, ...], value: int, dtype: str) -> np.ndarray:
    """A read-only array of one value, as an operand: numpy is much slower with scalars."""
    out = np.full(shape, value, dtype=dtype)
    out.flags.writeable = False
    return out


def row_counts(flags: np.ndarray) -> np.ndarray:
    """The number of True values in each row of a (rows, ...) bool array."""
    # one count_nonzero per row is several times faster than a reduction along an axis
    return np.array([np.count_nonzero(row) for row in flags], dtype=np.int64)


def format_label(label: tuple) -> str:
    """`chrom:pos ref>alt` of a record label tuple (text or the record's bytes)."""
    chrom, pos, ref, alt = (
        part.decode(errors="replace") if isinstance(part, bytes) else part for part in label
    )
    return f"{chrom}:{pos} {ref}>{alt}"


def all_in_order(order: np.ndarray, n_samples: int) -> bool:
    """True when `order` keeps every sample of the file in file order (no reindexing needed)."""
    return len(order) == n_samples and bool(np.all(order == np.arange(n_samples)))


def batch_array_codes(
    g: np.ndarray, luts: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model codes, phased flags and haploid-call counts of (records, samples, 3) diploid-layout
    calls, each record's VCF allele indices mapped through its lookup table.

    A haploid call counts as homozygous for its allele, and as phased (it has one order only).
    """
    a = g[..., :2].astype(np.int16)
    phased = g[..., -1].astype(bool)
    haploid = (a[..., 1] == -2) & (a[..., 0] >= 0)
    n_haploid = np.count_nonzero(haploid, axis=1)
    if n_haploid.any():
        a[..., 1] = np.where(haploid, a[..., 0], a[..., 1])
        phased |= haploid
    width = max(len(lut) for lut in luts)
    tables = np.full((len(luts), width), -2, dtype=np.int8)
    for row, lut in enumerate(luts):
        tables[row, : len(lut)] = np.where(lut < 0, -2, lut)
    index = np.clip(a, 0, width - 1).astype(np.intp)
    index += (np.arange(len(luts), dtype=np.intp) * width)[:, None, None]
    codes = tables.ravel()[index]
    codes[a < 0] = -1
    return codes, phased, n_haploid


def array_codes(g: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """`batch_array_codes` of one record in haploid (samples, 2) or diploid (samples, 3) layout."""
    ploidy = g.shape[1] - 1
    if ploidy == 1:
        diploid = np.empty((len(g), 3), dtype=np.int16)
        diploid[:, 0], diploid[:, 1], diploid[:, 2] = g[:, 0], -2, 1
        g = diploid
    elif ploidy != 2:
        raise InputError(f"ploidy {ploidy} is not supported; only haploid and diploid calls are")
    codes, phased, n_haploid = batch_array_codes(g[None], [lut])
    return codes[0], phased[0], int(n_haploid[0])
