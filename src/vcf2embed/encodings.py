"""Genotype encodings: how aligned genotypes become a model's input vector."""

from __future__ import annotations

import functools

import numpy as np

from .errors import InputError

ENCODINGS = ("allele_presence", "phased", "dosage")
_WIDTH = {"allele_presence": 2, "phased": 4, "dosage": 1}


def features_per_variant(encoding: str) -> int:
    """Return how many input values one variant takes under `encoding`."""
    try:
        return _WIDTH[encoding]
    except KeyError:
        raise InputError(
            f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}"
        ) from None


@functools.cache
def _pair_table(encoding: str) -> np.ndarray:
    """Features of every pair of int8 allele codes, indexed by the pair viewed as one uint16."""
    pairs = np.arange(1 << 16, dtype=np.uint16).view(np.int8).reshape(-1, 2)
    a0, a1 = pairs[:, 0], pairs[:, 1]
    if encoding == "allele_presence":
        columns = [(a0 == 0) | (a1 == 0), (a0 == 1) | (a1 == 1)]
    else:
        columns = [a0 == 0, a0 == 1, a1 == 0, a1 == 1]
    return np.stack(columns, axis=1).astype(np.float32)


def _by_pair(encoding: str, alleles: np.ndarray) -> np.ndarray:
    """Look up every call's features in the pair table; (samples, variants * width) float32."""
    pairs = np.ascontiguousarray(alleles, dtype=np.int8).view(np.uint16)[..., 0]
    return np.take(_pair_table(encoding), pairs, axis=0).reshape(alleles.shape[0], -1)


def allele_presence(alleles: np.ndarray) -> np.ndarray:
    """Encode (samples, variants, 2) allele codes as `[ref present, alt present]` per variant."""
    return _by_pair("allele_presence", alleles)


def phased_one_hot(alleles: np.ndarray) -> np.ndarray:
    """Encode haplotypes as `[h1 ref, h1 alt, h2 ref, h2 alt]` per variant."""
    return _by_pair("phased", alleles)


def _raw_dosage(alleles: np.ndarray, dosage: np.ndarray | None) -> np.ndarray:
    if dosage is not None:
        return dosage.astype(np.float32, copy=True)
    observed = alleles[..., 0] >= 0
    values = np.where(observed, alleles.sum(axis=-1), 0).astype(np.float32)
    values[~observed] = np.nan
    return values


def dosage_means(alleles: np.ndarray, dosage: np.ndarray | None = None) -> np.ndarray:
    """Mean observed ALT dosage per variant (0 where nothing is observed)."""
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(_raw_dosage(alleles, dosage), axis=0)
    return np.nan_to_num(means, nan=0.0)


def alt_dosage(
    alleles: np.ndarray, dosage: np.ndarray | None = None, means: np.ndarray | None = None
) -> np.ndarray:
    """Return alt dosage (0..2) per variant; missing values take the variant's mean dosage."""
    values = _raw_dosage(alleles, dosage)
    if means is None:
        means = dosage_means(alleles, dosage)
    holes = np.isnan(values)
    values[holes] = np.take(means, np.nonzero(holes)[1])
    return values


def count_unphased_hets(alleles: np.ndarray, phased: np.ndarray) -> int:
    """Count observed heterozygous calls that are not phased."""
    het = (alleles[..., 0] >= 0) & (alleles[..., 0] != alleles[..., 1])
    return int(np.count_nonzero(het & ~phased))


def check_phased(alleles: np.ndarray, phased: np.ndarray, where: str) -> None:
    """Raise if heterozygous calls are unphased, which a phased model cannot take."""
    n = count_unphased_hets(alleles, phased)
    if n:
        raise InputError(
            f"{where}: {n} heterozygous calls are unphased but the model takes phased "
            "haplotypes; phase the VCF or set `allow_unphased: true`"
        )


def encode(
    encoding: str,
    alleles: np.ndarray,
    phased: np.ndarray | None = None,
    dosage: np.ndarray | None = None,
    allow_unphased: bool = False,
    where: str = "",
    means: np.ndarray | None = None,
) -> np.ndarray:
    """Encode aligned genotypes as a float32 (samples, features) model input."""
    if encoding == "allele_presence":
        return allele_presence(alleles)
    if encoding == "phased":
        if phased is not None and not allow_unphased:
            check_phased(alleles, phased, where)
        return phased_one_hot(alleles)
    if encoding == "dosage":
        return alt_dosage(alleles, dosage, means)
    raise InputError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
