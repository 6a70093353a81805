"""Compiled loops that turn a block of calls into model codes and QC counts in one pass.

numpy needs several passes (and temporaries) for what one loop over the calls does here; for
the biobank formats these passes cost more than the library's own read. The loops are compiled
with numba on first use (and cached beside this file, or in numba's user cache when this folder
is read-only), so a run that reads VCF only never imports numba.

Codes follow `aligner.py`: (records, samples, 2) int8 allele indices, 0 = model REF, 1 = model
ALT, -1 = missing for both alleles of a call. Counts are per record: missing, half-missing,
other allele (always 0 here: the records are biallelic), haploid.
"""

from __future__ import annotations

from functools import cache

import numpy as np

MISSING, HALF, OTHER, HAPLOID = range(4)  # columns of a counts array


@cache
def compiled(func):
    """`func` compiled (once per process; numba's cache keeps the machine code across runs)."""
    import numba

    return numba.njit(cache=True, nogil=True)(func)


def _finish_pairs(pairs, flip, haploid_ok, counts):
    # branch-free, so that the loop vectorises: a branch here costs several times the loop
    for r in range(pairs.shape[0]):
        f = np.int16(0x0101) if flip[r] else np.int16(0)  # both alleles 0 <-> 1
        missing = half = haploid = 0
        for s in range(pairs.shape[1]):
            p = pairs[r, s]  # (a0, a1) as one little-endian int16
            neg0, neg1 = (p & 0x80) != 0, (p & 0x8000) != 0
            hap = haploid_ok & (((p >> 8) & 0xFF) == 0xFE) & (not neg0)  # a1 -2: absent
            missing += neg0 & neg1
            half += (neg0 ^ neg1) & (not hap)
            haploid += hap
            pairs[r, s] = p if hap else (np.int16(-1) if neg0 | neg1 else p ^ f)
        counts[r, 0], counts[r, 1], counts[r, 2], counts[r, 3] = missing, half, 0, haploid


def _finish_haploid(pairs, phased, flip, rows):
    for r in rows:
        f = np.int16(0x0101) if flip[r] else np.int16(0)
        for s in range(pairs.shape[1]):
            p = pairs[r, s]
            if ((p >> 8) & 0xFF) == 0xFE and (p & 0x80) == 0:  # left by `_finish_pairs`
                pairs[r, s] = ((p & 0xFF) * np.int16(0x0101)) ^ f
                phased[r, s] = True


def finish_pairs(
    codes: np.ndarray, phased: np.ndarray, flip: np.ndarray, haploid: bool
) -> np.ndarray:
    """Turn biallelic records' allele indices (negative: missing, -2 the absent second allele of
    a haploid call) into model codes in place, flipped where `flip` (swapped records); a
    haploid call becomes homozygous and phased when `haploid`, any other call with a negative
    allele missing. Returns the (records, 4) counts."""
    counts = np.empty((len(codes), 4), dtype=np.int64)
    pairs, flip = codes.view(np.int16).reshape(codes.shape[:2]), flip.astype(np.bool_)
    compiled(_finish_pairs)(pairs, flip, haploid, counts)
    rows = np.flatnonzero(counts[:, HAPLOID])
    if len(rows):  # rare (chrX, chrY): a slower loop for those records only
        compiled(_finish_haploid)(pairs, phased, flip, rows)
    return counts


def _counts_to_pairs(alt_counts, pairs):
    for r in range(alt_counts.shape[0]):
        for s in range(alt_counts.shape[1]):
            c = np.int16(alt_counts[r, s])
            # (a0, a1) as one little-endian int16: 0/0, 0/1 (0x0100), 1/1 (0x0101); -1 missing
            pairs[r, s] = np.int16(-1) if c < 0 else (c >> 1) | (min(c, np.int16(1)) << 8)


def counts_to_pairs(alt_counts: np.ndarray, codes: np.ndarray) -> None:
    """Unphased allele pairs of biallelic records from their ALT counts (0, 1, 2; negative
    missing): 0/0, 0/1, 1/1 and -1/-1, written into (records, samples, 2) int8 `codes`."""
    compiled(_counts_to_pairs)(alt_counts, codes.view(np.int16).reshape(codes.shape[:2]))
