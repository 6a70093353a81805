"""Hard calls straight from a BGEN layout-2 genotype block, for the common case: biallelic,
every sample diploid, 8 or 16 bits per probability, zlib- (BGEN 1.2) or zstd-compressed (1.3),
or not compressed.

The `bgen` package finds the variants and decodes everything else; decoding its float64
probabilities of every sample only to threshold them costs several times the read itself, so
the block's integer probabilities are thresholded here instead, with the rule `bgen.py` applies
to the package's probabilities (a genotype, or a haplotype's allele, is called when its
probability is at least `HARD_CALL_MIN`), giving the same calls.
"""

from __future__ import annotations

import struct
from functools import lru_cache

import deflate
import numpy as np

from ..kernels import compiled

FAST_BITS = (8, 16)  # wider values would need more than float32 precision near the threshold


def genotype_block(record: bytes, compression: str) -> bytes | None:
    """The uncompressed genotype block of one layout-2 variant record (identifying data, then
    the block), or None when its compression is not zlib, zstd or none."""
    at = 0
    for _ in range(3):  # variant ID, rsID, chromosome
        (length,) = struct.unpack_from("<H", record, at)
        at += 2 + length
    (n_alleles,) = struct.unpack_from("<H", record, at + 4)
    at += 6
    for _ in range(n_alleles):
        (length,) = struct.unpack_from("<I", record, at)
        at += 4 + length
    (size,) = struct.unpack_from("<I", record, at)
    data = record[at + 4 : at + 4 + size]
    if compression == "none" or compression is None:
        return data
    if compression not in ("zlib", "zstd"):
        return None
    (expected,) = struct.unpack_from("<I", data, 0)
    if compression == "zstd":  # BGEN 1.3
        return _zstd().decompress(data[4:], max_output_size=expected)
    return deflate.zlib_decompress(data[4:], expected)


@lru_cache(maxsize=1)
def _zstd():
    """One zstd decompressor, reused for every block."""
    import zstandard

    return zstandard.ZstdDecompressor()


@lru_cache(maxsize=8)
def call_threshold(bits: int, minimum: float) -> int:
    """The smallest stored value v with v / (2**bits - 1) >= minimum (as the package divides)."""
    top = (1 << bits) - 1
    value = int(minimum * top)
    while value / top < minimum:
        value += 1
    while value > 0 and (value - 1) / top >= minimum:
        value -= 1
    return value


def _unphased_calls(values, ploidy, called, rest, pairs):
    # branch-free so that it vectorises; (a0, a1) as one little-endian int16
    for s in range(pairs.shape[0]):  # per sample: P(0/0), P(0/1); P(1/1) has the rest
        first, second = np.int32(values[2 * s]), np.int32(values[2 * s + 1])
        # at most one of the three holds (each needs more than half the probability)
        pair = (
            -1 + (first >= called) + 0x0101 * (second >= called) + 0x0102 * (first + second <= rest)
        )
        pairs[s] = np.int16(-1) if ploidy[s] >= 0x80 else np.int16(pair)  # the missing flag


def _phased_calls(values, ploidy, called, rest, alleles):
    for i in range(alleles.shape[0]):  # per haplotype: P(allele 0); allele 1 has the rest
        v = values[i]  # allele 0 (0), allele 1 (1) or neither (-1)
        alleles[i] = np.int8(v <= rest) - np.int8((v < called) & (v > rest))
    for s in range(ploidy.shape[0]):
        if ploidy[s] >= 0x80:  # the missing flag
            alleles[2 * s], alleles[2 * s + 1] = -1, -1


def hard_calls(block: bytes, n: int, minimum: float, pairs: np.ndarray, phased: np.ndarray) -> bool:
    """Write one variant's calls ((n, 2) int8 allele indices, -1 missing) and phased flags into
    `pairs` and `phased`; False (nothing written) when the block is not the common case."""
    samples, alleles, low, high = struct.unpack_from("<IHBB", block, 0)
    if samples != n or alleles != 2 or low != 2 or high != 2:
        return False
    is_phased, bits = block[8 + n], block[9 + n]
    if bits not in FAST_BITS:
        return False
    dtype = np.dtype(f"<u{bits // 8}")
    called = call_threshold(bits, minimum)
    values = np.frombuffer(block, dtype=dtype, count=2 * n, offset=10 + n)
    ploidy = np.frombuffer(block, dtype=np.uint8, count=n, offset=8)
    # as the values' own type: comparing with a wider one would widen every value
    called, rest = dtype.type(called), dtype.type((1 << bits) - 1 - called)
    calls = pairs.view(np.int16).reshape(n)  # a view (a copy would lose what is written)
    if is_phased:
        compiled(_phased_calls)(values, ploidy, called, rest, calls.view(np.int8))
    else:
        compiled(_unphased_calls)(values, ploidy, called, rest, calls)
    phased[:] = bool(is_phased)
    return True
