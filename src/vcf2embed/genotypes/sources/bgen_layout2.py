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
from dataclasses import dataclass
from functools import lru_cache

import deflate
import numpy as np

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
        return _unzstd(data[4:], expected)
    return deflate.zlib_decompress(data[4:], expected)


def _unzstd(data: bytes, expected: int) -> bytes:
    """A zstd stream decompressed (zstandard is imported only when a file needs it); a damaged
    stream raises ValueError."""
    import zstandard

    try:
        return _zstd().decompress(data, max_output_size=expected)
    except zstandard.ZstdError as exc:
        raise ValueError(f"zstd: {exc}") from None


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


@dataclass(frozen=True)
class Bounds:
    """Per-value operands of one sample count and bit width (numpy is much faster with array
    operands than with scalars)."""

    called: np.ndarray  # (2n,) the threshold: a stored probability at least this is a call
    rest_called: np.ndarray  # (2n,) the largest stored value that leaves the rest a call
    one: np.ndarray  # (2n,) int8 ones
    het: np.ndarray  # (n,) int16 0x0101: 0/1 as an int16 pair, plus one
    hom_alt: np.ndarray  # (n,) int16 0x0102: 1/1 as an int16 pair, plus one


@lru_cache(maxsize=4)
def bounds(n: int, bits: int, minimum: float) -> Bounds:
    """The operands of `hard_calls` for `n` samples of `bits`-bit probabilities."""
    dtype = np.dtype(f"<u{bits // 8}")
    top, t = (1 << bits) - 1, call_threshold(bits, minimum)
    return Bounds(
        called=np.full(2 * n, t, dtype=dtype),
        rest_called=np.full(2 * n, top - t, dtype=dtype),
        one=np.ones(2 * n, dtype=np.int8),
        het=np.full(n, 0x0101, dtype=np.int16),
        hom_alt=np.full(n, 0x0102, dtype=np.int16),
    )


def hard_calls(
    block: bytes,
    n: int,
    minimum: float,
    pairs: np.ndarray,
    phased: np.ndarray,
    work: np.ndarray | None = None,
) -> bool:
    """Write one variant's calls ((n, 2) int8 allele indices, -1 missing) and phased flags into
    `pairs` and `phased` (`work`: room for 2n int8, reused between calls); False (nothing
    written) when the block is not the common case."""
    samples, alleles, low, high = struct.unpack_from("<IHBB", block, 0)
    if samples != n or alleles != 2 or low != 2 or high != 2:
        return False
    is_phased, bits = block[8 + n], block[9 + n]
    if bits not in FAST_BITS:
        return False
    if bits == 8 and not is_phased:  # a sample's two values as one uint16, looked up at once
        index = np.frombuffer(block, dtype="<u2", count=n, offset=10 + n)
        np.take(unphased_calls(minimum), index, out=pairs.view(np.int16)[:, 0], mode="wrap")
    else:
        b = bounds(n, bits, minimum)
        values = np.frombuffer(block, dtype=b.called.dtype, count=2 * n, offset=10 + n)
        if is_phased:
            _phased_calls(values, b, pairs.reshape(-1), work)
        else:
            _unphased_16bit_calls(values, b, pairs.view(np.int16)[:, 0])
    phased[:] = bool(is_phased)
    _flag_missing(block, n, pairs)
    return True


def _phased_calls(values: np.ndarray, b: Bounds, out: np.ndarray, work: np.ndarray | None) -> None:
    """Per haplotype, from P(allele 0) (allele 1 has the rest): code 2 a1 - (not a0)."""
    allele1 = np.empty(len(values), dtype=np.int8) if work is None else work
    np.less_equal(values, b.rest_called, out=allele1.view(bool))
    np.add(allele1, allele1, out=allele1)
    np.less(values, b.called, out=out.view(bool))
    np.subtract(allele1, out, out=out)


def _unphased_16bit_calls(values: np.ndarray, b: Bounds, pair: np.ndarray) -> None:
    """Per sample, from 16-bit P(0/0), P(0/1) (P(1/1) has the rest): the call as an int16
    allele pair (0/0 0, 0/1 0x100, 1/1 0x101), -1 when no genotype is called."""
    n = len(pair)
    first, second = values[0::2], values[1::2]
    hom_alt = first.astype(np.uint32) + second <= b.rest_called[:n]
    np.subtract(first >= b.called[:n], b.one[:n], out=pair, dtype=np.int16)
    pair += (second >= b.called[:n]) * b.het
    pair += hom_alt * b.hom_alt


def _flag_missing(block: bytes, n: int, pairs: np.ndarray) -> None:
    """Make the calls of samples whose ploidy byte has the missing flag missing."""
    ploidy = np.frombuffer(block, dtype=np.uint8, count=n, offset=8)
    if ploidy.max() >= 0x80:
        pairs[ploidy >= 0x80] = -1


@lru_cache(maxsize=4)
def unphased_calls(minimum: float) -> np.ndarray:
    """(65536,) int16: the call, as an int16 allele pair (0/0 0, 0/1 0x100, 1/1 0x101, missing
    -1), of each pair of 8-bit values P(0/0), P(0/1) read as one little-endian uint16: one
    lookup instead of the comparisons, which are several times slower on interleaved values."""
    t, top = call_threshold(8, minimum), 255
    first, second = np.arange(1 << 16) & 0xFF, np.arange(1 << 16) >> 8
    table = np.full(1 << 16, -1, dtype=np.int16)
    table[first + second <= top - t] = 0x0101  # P(1/1), the rest, is at least the threshold
    table[second >= t] = 0x0100
    table[first >= t] = 0
    return table
