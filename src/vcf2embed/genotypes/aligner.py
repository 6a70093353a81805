"""Matching a region's records to a model's variants, whatever format they came from.

Aligned calls are allele codes relative to the *model's* alleles: 0 = model REF, 1 = model ALT,
-1 = missing (for both haplotypes of a call). Rules:

* exact (chrom, pos, ref, alt) matches are preferred over REF/ALT swaps, which are preferred
  over finding the model's alleles inside a multi-allelic record; two records of equal rank for
  one model variant are an error that names both;
* a call carrying an allele other than the model's REF or ALT is missing for that variant;
* half-missing calls (`./1`, `0|.`) are missing;
* haploid calls (e.g. chrX in males) count as homozygous for their allele;
* positions-only variant lists match the record at that position, taking its REF as the model's
  REF and its first ALT as the model's ALT.
"""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from pathlib import Path

import numpy as np

from ..defaults import DEFAULT_THREADS
from ..errors import InputError
from ..variants import VariantList
from .block_codes import missing_calls
from .qc import AlignmentQC
from .quality import low_quality
from .records import format_label, row_counts
from .tile import PRESENCE_SCALE

_COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}
RANK = {"exact": 0, "swapped": 1, "multiallelic": 2, "position": 3}


def classify(alleles: list[str], ref: str, alt: str) -> str | None:
    """Return how a record's alleles hold the model's (ref, alt), or None if they do not."""
    if len(alleles) == 2:
        if alleles[0] == ref and alleles[1] == alt:
            return "exact"
        if alleles[0] == alt and alleles[1] == ref:
            return "swapped"
        return None
    if ref in alleles and alt in alleles:
        return "multiallelic"
    return None


def is_strand_ambiguous(ref: str, alt: str) -> bool:
    """True for A/T and C/G pairs, whose strand cannot be told from the alleles."""
    return len(ref) == 1 and _COMPLEMENT.get(ref) == alt


def model_alt_dosage(
    values: np.ndarray, field: str, kind: str, alleles: list[str], lut: np.ndarray
) -> np.ndarray | None:
    """The model-ALT dosage of a record from its DS (Number=A) or GP (Number=G) values, or None
    when the record's layout cannot give it (e.g. GP of a multi-allelic record)."""
    values = values.astype(np.float32)
    if field == "DS":
        if kind in ("exact", "position"):
            return values[:, 0]
        if kind == "swapped":
            return 2.0 - values[:, 0]
        col = int(np.argmax(lut == 1)) - 1
        if lut[0] == 0 and 0 <= col < values.shape[1]:
            return values[:, col]
        return None
    if values.shape[1] < 3:
        return None
    if kind in ("exact", "position"):
        return values[:, 1] + 2.0 * values[:, 2]
    if kind == "swapped":
        return values[:, 1] + 2.0 * values[:, 0]
    return None


def soft_presence(values: np.ndarray, kind: str) -> np.ndarray:
    """[P(model REF present), P(model ALT present)] = [GP0 + GP1, GP1 + GP2] of a biallelic
    record's GP (flipped when swapped), as uint16 / PRESENCE_SCALE; [0, 0] (the missing
    encoding) where GP is missing or the record is multi-allelic."""
    if values.shape[1] != 3 or kind not in ("exact", "swapped", "position"):
        return np.zeros((len(values), 2), dtype=np.uint16)
    gp = values.astype(np.float64)
    ref, alt = gp[:, 0] + gp[:, 1], gp[:, 1] + gp[:, 2]
    pair = np.stack([alt, ref] if kind == "swapped" else [ref, alt], axis=1)
    pair[~np.isfinite(gp).all(axis=1)] = 0.0
    return np.rint(np.clip(pair, 0.0, 1.0) * PRESENCE_SCALE).astype(np.uint16)


class Aligner:
    """Chooses, for every model variant, the best-matching record and stores its calls."""

    def __init__(
        self,
        variants: VariantList,
        order: np.ndarray,
        qc: AlignmentQC,
        path: Path,
        genotype_field: str,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        n_samples, n_var = len(order), len(variants)
        self.variants, self.order, self.qc, self.path = variants, order, qc, path
        self.genotype_field = genotype_field
        self.threads = threads  # a source may convert on a helper thread beside its reads
        # variant-major while reading: each record fills a contiguous row; `finish` makes the
        # rows no record filled missing (-1) and unphased (filling all of them first would
        # cost a pass over the whole tile)
        self.alleles_vm = np.empty((n_var, n_samples, 2), dtype=np.int8)
        self.phased_vm = np.empty((n_var, n_samples), dtype=bool)
        self.stored = np.zeros(n_var, dtype=bool)
        # model-ALT dosages, variant-major (a record fills a row); NaN until a record supplies it
        self.dosage = (
            np.full((n_var, n_samples), np.nan, dtype=np.float32)
            if genotype_field != "GT"
            else None
        )
        # with GP: [P(model REF present), P(model ALT present)] per call, as uint16 / PRESENCE_SCALE
        self.presence = (
            np.zeros((n_var, n_samples, 2), dtype=np.uint16) if genotype_field == "GP" else None
        )
        # imputation quality per variant, filled by sources that carry one (None: not wanted)
        self.quality: np.ndarray | None = None
        self.by_pos: dict[int, list[int]] = {}
        for j, p in enumerate(variants.pos.tolist()):
            self.by_pos.setdefault(p, []).append(j)
        self.call_counts = np.zeros((n_var, 4), dtype=np.int64)  # missing, half, other, haploid
        self.chosen: dict[int, tuple[int, tuple]] = {}
        self.kinds: dict[int, str] = {}

    def exact_alleles(self) -> dict[tuple[int, str, str], int]:
        """(pos, ref, alt) of each variant alone at its position -> its index."""
        if self.variants.positions_only:
            return {}
        ref, alt = self.variants.ref, self.variants.alt
        return {
            (pos, ref[js[0]], alt[js[0]]): js[0] for pos, js in self.by_pos.items() if len(js) == 1
        }

    def skip(self) -> None:
        """Count a record that no model variant is at."""
        self.qc.records_read += 1
        self.qc.records_not_in_model += 1

    def claim_exact(self, js: list[int], labels: list[tuple]) -> list[bool]:
        """Take records as the exact matches of variants `js`; False where a variant already
        has a record (also from earlier in `js`), which `candidates` must then weigh."""
        chosen = self.chosen
        if len(set(js)) == len(js) and chosen.keys().isdisjoint(js):
            chosen.update(zip(js, zip(repeat(RANK["exact"]), labels)))
            self.kinds.update(dict.fromkeys(js, "exact"))
            self.qc.records_read += len(js)
            return [True] * len(js)
        return [self.claim_one(j, label) for j, label in zip(js, labels)]

    def claim_one(self, j: int, label: tuple, kind: str = "exact") -> bool:
        """`claim_exact` for one record, exact or (`kind`) swapped."""
        if j in self.chosen:
            return False
        self.chosen[j] = (RANK[kind], label)
        self.kinds[j] = kind
        self.qc.records_read += 1
        return True

    def candidates(
        self, pos: int, rec_alleles: list[str], label: tuple
    ) -> list[tuple[int, str, np.ndarray]]:
        """Model variants this record now supplies, as (index, kind, allele lookup table)."""
        self.qc.records_read += 1
        out = []
        used = False
        for j in self.by_pos.get(pos, ()):
            mref, malt, kind = self._model_alleles(j, rec_alleles)
            if kind is None:
                continue
            used = True
            if self._better_known(j, kind, label):
                continue
            self.chosen[j] = (RANK[kind], label)
            self.kinds[j] = kind
            lut = np.array(
                [0 if a == mref else 1 if a == malt else -1 for a in rec_alleles], dtype=np.int8
            )
            out.append((j, kind, lut))
        if not used:
            self.qc.records_not_in_model += 1
        return out

    def _model_alleles(self, j: int, rec_alleles: list[str]) -> tuple[str, str, str | None]:
        """Variant `j`'s (ref, alt) and how the record holds them (None: it does not)."""
        if self.variants.positions_only:
            return rec_alleles[0], rec_alleles[1] if len(rec_alleles) > 1 else ".", "position"
        mref, malt = self.variants.ref[j], self.variants.alt[j]
        return mref, malt, classify(rec_alleles, mref, malt)

    def _better_known(self, j: int, kind: str, label: tuple) -> bool:
        """True when variant `j` already has a better record; raise on one of equal rank."""
        if j not in self.chosen:
            return False
        old_rank, old_label = self.chosen[j]
        if old_rank == RANK[kind]:
            raise InputError(
                f"{self.path}: records {format_label(old_label)} and {format_label(label)} "
                f"both match model variant {self.variants.label(j)}; remove the duplicate "
                "(e.g. `bcftools norm -d exact`)"
            )
        return old_rank < RANK[kind]

    def destination(self, js: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """The rows of consecutive variants `js` (codes, phased; not yet filled), for a source
        to write calls into before `fill_codes` takes them there; None when `js` are not
        consecutive."""
        first = js[0]
        if js != list(range(first, first + len(js))):
            return None
        return self.alleles_vm[first : first + len(js)], self.phased_vm[first : first + len(js)]

    def span_rows(self, js: list[int], at: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows js[0] .. js[0] + at[-1] when each variant js[k] is row js[0] + at[k] and none of
        them is stored yet, for a source to write a run of records into (the rows between, which
        other records or `finish` fill later, included); else None."""
        first, end = js[0], js[0] + at[-1] + 1
        if end > len(self.stored) or any(j - first != k for j, k in zip(js, at)):
            return None
        if self.stored[first:end].any():
            return None
        return self.alleles_vm[first:end], self.phased_vm[first:end]

    def store_in_place(self, js: list[int], counts: np.ndarray) -> None:
        """Take the model codes a source wrote into the rows of variants `js` (`span_rows`),
        with their (records, 4) call counts."""
        self.call_counts[js] = counts
        self.stored[js] = True

    def write_columns(
        self, js: list[int], cols: slice, codes: np.ndarray, phased: np.ndarray, at: list[int]
    ) -> None:
        """Put a source's allele indices of variants `js` (rows `at` of `codes` and `phased`)
        for the samples `cols` (output order) into their rows, for `fill_codes` to take from
        `rows(js)`."""
        for j, k in zip(js, at):  # a row at a time: no temporary of the gathered rows
            self.alleles_vm[j, cols] = codes[k]
            self.phased_vm[j, cols] = phased[k]

    def rows(self, js: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The (codes, phased) rows of variants `js`: views when consecutive, else copies."""
        return self.destination(js) or (self.alleles_vm[js], self.phased_vm[js])

    def fill_codes(
        self,
        js: list[int],
        codes: np.ndarray,
        phased: np.ndarray,
        may_have_other: bool = True,
        haploid: np.ndarray | None = None,
    ) -> None:
        """Store (records, samples, 2) codes (negative: missing, -2 another allele where
        `may_have_other`; samples in output order). Call counts are kept per model variant, so
        a record that a better one replaces later leaves no trace in the QC."""
        if haploid is None:
            haploid = np.zeros(len(js), dtype=np.int64)
        if len(set(js)) != len(js):  # a later, better record replaces an earlier one
            keep = sorted({j: k for k, j in enumerate(js)}.values())
            js, codes, phased, haploid = (
                [js[k] for k in keep],
                codes[keep],
                phased[keep],
                haploid[keep],
            )
        codes = np.ascontiguousarray(codes)
        other = np.zeros(len(js), dtype=np.int64)
        if may_have_other:
            # per call (two bytes viewed as one uint16): any allele -2 and none -1
            other_calls = ((codes == -2).view(np.uint16) != 0) & (
                (codes == -1).view(np.uint16) == 0
            )
            other = row_counts(other_calls)
        both, negative = missing_calls(codes)  # half-missing calls, or ones with another allele
        self.call_counts[js] = np.stack([both, negative - both - other, other, haploid], axis=1)
        self._put_rows(js, codes, phased)

    def store_counted(
        self, js: list[int], codes: np.ndarray, phased: np.ndarray, counts: np.ndarray
    ) -> None:
        """Store model codes of distinct variants `js` whose (records, 4) call counts (missing,
        half-missing, other allele, haploid) are known already, as `block_codes` returns them."""
        self.call_counts[js] = counts
        self._put_rows(js, codes, phased)

    def _put_rows(self, js: list[int], codes: np.ndarray, phased: np.ndarray) -> None:
        """Copy codes and phased flags into the rows of `js`, unless they are those rows."""
        self.stored[js] = True
        rows = self.destination(js)
        if rows is not None:
            if not np.may_share_memory(codes, self.alleles_vm):  # else written there already
                rows[0][...] = codes
            if not np.may_share_memory(phased, self.phased_vm):
                rows[1][...] = phased
        else:
            self.alleles_vm[js] = codes
            self.phased_vm[js] = phased

    def fill_valid(
        self, js: list[int], codes: np.ndarray, phased: np.ndarray, valid: np.ndarray
    ) -> np.ndarray:
        """Store the rows `valid` marks (exact matches, so no other allele); return the rest."""
        if valid.all():
            self.fill_codes(js, codes, phased, may_have_other=False)
            return np.empty(0, dtype=np.intp)
        good = np.flatnonzero(valid)
        if len(good):
            self.fill_codes([js[i] for i in good], codes[good], phased[good], may_have_other=False)
        return np.flatnonzero(~valid)

    def missing_field(self) -> None:
        """Count a record that lacks GT."""
        if self.genotype_field == "GT":
            self.qc.records_without_field += 1

    def fill_dosage(
        self, j: int, kind: str, rec_alleles: list[str], lut: np.ndarray, values: np.ndarray | None
    ) -> None:
        """Store variant `j`'s model-ALT dosage, or count the record as lacking the field."""
        if self.dosage is None:
            return
        ds = None
        if values is not None and not np.isnan(values).all():  # all missing: no field at all
            ds = model_alt_dosage(values, self.genotype_field, kind, rec_alleles, lut)
        if ds is None:
            self.qc.records_without_field += 1
            self.dosage[j] = np.nan
        else:
            self.dosage[j] = ds
        if self.presence is not None:
            self.presence[j] = 0 if values is None else soft_presence(values, kind)

    def drop_low_quality(self, quality: np.ndarray, threshold: float) -> None:
        """Give variants found with a known quality below `threshold` the missing encoding."""
        found = np.zeros(len(quality), dtype=bool)
        found[list(self.kinds)] = True
        low = low_quality(quality, threshold) & found
        self.alleles_vm[low] = -1
        self.phased_vm[low] = False
        if self.dosage is not None:
            self.dosage[low] = np.nan
        if self.presence is not None:
            self.presence[low] = 0
        self.qc.low_info_variants = int(low.sum())
        self.qc.info_unknown_variants = int((found & ~np.isfinite(quality)).sum())

    def finish(self) -> None:
        """Make the calls of variants no record filled missing, and complete the QC."""
        self.alleles_vm[~self.stored] = -1
        self.phased_vm[~self.stored] = False
        qc, variants = self.qc, self.variants
        missing, half, other, haploid = (int(x) for x in self.call_counts.sum(axis=0))
        qc.calls_missing += missing
        qc.calls_half_missing += half
        qc.calls_other_allele += other
        qc.calls_haploid += haploid
        for kind, count in Counter(self.kinds.values()).items():
            counter = "matched_by_position" if kind == "position" else f"matched_{kind}"
            setattr(qc, counter, getattr(qc, counter) + count)
        if not variants.positions_only:
            ref, alt = variants.ref, variants.alt
            qc.strand_ambiguous = sum(is_strand_ambiguous(ref[j], alt[j]) for j in self.kinds)
        absent = [j for j in range(len(variants)) if j not in self.kinds]
        qc.missing_variants = len(absent)
        qc.missing_examples = [variants.label(j) for j in absent[:5]]
        qc.calls_missing += len(absent) * len(self.order)
