"""A block of records' calls turned into model codes and QC counts, in place: the missing-call
pass every reader's codes go through, and the whole conversion of biallelic records.

Codes follow `aligner.py`: (records, samples, 2) int8 allele indices, 0 = model REF, 1 = model
ALT, -1 = missing for both alleles of a call. Counts are per record: missing, half-missing,
other allele (always 0 here: the records are biallelic), haploid.

Both alleles of a call are handled as one int16 (the second allele the high byte), and numpy
is given array operands (`records.constant`): with a scalar operand it is many times slower.
"""

from __future__ import annotations

import numpy as np

from .records import constant, row_counts

HAPLOID = 3  # the counts column of haploid calls


def finish_pairs(
    codes: np.ndarray,
    phased: np.ndarray,
    flip: np.ndarray,
    haploid: bool,
    half_calls: bool = True,
) -> np.ndarray:
    """Turn biallelic records' allele indices (negative: missing, -2 the absent second allele of
    a haploid call) into model codes in place, flipped where `flip` (swapped records); a
    haploid call becomes homozygous and phased when `haploid`, any other call with a negative
    allele missing (`half_calls` False: the source has none, so that pass is left out).
    Returns the (records, 4) counts."""
    counts = np.zeros((len(codes), 4), dtype=np.int64)
    # one cheap pass finds a block with no negative allele (hard calls from imputed data):
    # it has no haploid, missing or half call, and only its flips are left
    clean = codes.size == 0 or codes.min() >= 0
    pair = codes.view(np.int16)[..., 0]
    if haploid and not clean:
        # the second allele -2 (0xFE) and the first not negative: masks 0xFF80, 0xFE00
        calls = (pair & np.int16(-128)) == np.int16(-512)
        counts[:, HAPLOID] = row_counts(calls)
        if counts[:, HAPLOID].any():
            codes[..., 1] = np.where(calls, codes[..., 0], codes[..., 1])
            phased |= calls
    for k in np.flatnonzero(flip):  # 0 <-> 1; negatives stay negative
        np.bitwise_xor(codes[k], 1, out=codes[k])
    if not clean:
        both, negative = missing_calls(codes, half_calls)
        counts[:, 0], counts[:, 1] = both, negative - both
    return counts


def missing_calls(codes: np.ndarray, partly: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Make every call with a negative allele missing (-1 in both), in place; return per record
    the calls missing in both alleles and those with any allele negative (`partly` False: the
    caller knows no call is negative in one allele only, and that pass is left out)."""
    np.maximum(codes, constant(codes.shape[1:], -1, "int8"), out=codes)
    pair = codes.view(np.int16)[..., 0]  # both alleles of a call as one int16
    both = row_counts(pair == -1)
    if not partly:
        return both, both
    negative_calls = (pair & np.int16(-32640)) != 0  # 0x8080: either allele
    negative = row_counts(negative_calls)
    if (negative > both).any():
        np.bitwise_or(pair, -negative_calls.astype(np.int16), out=pair)
    return both, negative


def counts_to_pairs(alt_counts: np.ndarray, codes: np.ndarray) -> None:
    """Unphased allele pairs of biallelic records from their ALT counts (0, 1, 2; negative
    missing): 0/0, 0/1, 1/1 and negative, written into (records, samples, 2) int8 `codes`."""
    wide = alt_counts.astype(np.int16)
    one, eight, low = (constant(alt_counts.shape[1:], v, "int16") for v in (1, 8, 0xFF))
    pair = codes.view(np.int16)[..., 0]  # the second allele is the high byte
    np.minimum(wide, one, out=pair)
    np.left_shift(pair, eight, out=pair)
    np.right_shift(wide, one, out=wide)
    np.bitwise_and(wide, low, out=wide)
    np.bitwise_or(pair, wide, out=pair)
