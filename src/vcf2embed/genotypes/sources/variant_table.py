"""Records of a region from formats that index variants and read calls by variant number
(PGEN, PLINK 1 BED, BGEN, VCF Zarr): one loop that turns them into sink records.

A source lists the region's variants (position, alleles, number in the file) as a
`RegionVariants` and reads the calls of any of them in cyvcf2's layout ((samples, 3) int16:
allele indices, -1 missing, -2 absent, phased flag), all samples in file order; this module asks
the sink which records it wants and hands it their calls a batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..records import RecordSink, all_in_order, batch_array_codes

CALL_BATCH_BYTES = 64 << 20  # calls read at once: bounds the temporaries


@dataclass
class RegionVariants:
    """The variants of one region of a file, in file order."""

    contig: str
    pos: np.ndarray  # int64
    alleles: list[tuple[str, ...]]
    index: np.ndarray  # each variant's number in the file
    quality: np.ndarray | None = None  # imputation quality, when the format carries one


# read_calls(indices) -> (len(indices), samples, 3) int16 in cyvcf2's layout, file sample order
CallReader = Callable[[np.ndarray], np.ndarray]
# read_values(indices, field) -> (len(indices), samples, values per call) float, NaN missing
ValueReader = Callable[[np.ndarray, str], "np.ndarray | None"]
# read_pairs(indices) -> ((len(indices), samples, 2) int8 allele indices, -1 missing, -2 the
# absent second allele of a haploid call; (len(indices), samples) bool phased), file order
PairReader = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def put_region(
    region: RegionVariants,
    sink: RecordSink,
    read_calls: CallReader,
    read_values: ValueReader | None = None,
    read_pairs: PairReader | None = None,
) -> None:
    """Offer every variant of `region` to `sink` and store the calls of those it takes."""
    wanted: list[tuple[int, str, list[str], np.ndarray, int]] = []
    for pos, alleles, number in zip(region.pos.tolist(), region.alleles, region.index.tolist()):
        if pos not in sink.by_pos:
            sink.skip()
            continue
        label = (region.contig, pos, alleles[0], ",".join(alleles[1:]) or ".")
        upper = [a.upper() for a in alleles]
        for j, kind, lut in sink.candidates(pos, upper, label):
            wanted.append((j, kind, upper, lut, number))
            if sink.quality is not None and region.quality is not None:
                sink.quality[j] = region.quality[number - region.index[0]]
    n = max(1, len(sink.order))
    step = max(1, CALL_BATCH_BYTES // (8 * n))
    for first in range(0, len(wanted), step):
        batch = wanted[first : first + step]
        if read_pairs is not None and all(_simple(item[3]) for item in batch):
            _store_simple(batch, sink, read_pairs)
            _store_values(batch, sink, read_values)
        else:
            _store(batch, sink, read_calls, read_values)


def _simple(lut: np.ndarray) -> bool:
    """A biallelic record holding the model's alleles, in order or swapped."""
    return len(lut) == 2 and {int(lut[0]), int(lut[1])} == {0, 1}


def _store_simple(
    batch: list[tuple[int, str, list[str], np.ndarray, int]],
    sink: RecordSink,
    read_pairs: PairReader,
) -> None:
    """Store biallelic records' calls straight from their allele indices (swapped ones flipped)."""
    numbers = np.array([item[4] for item in batch], dtype=np.int64)
    pairs, phased = read_pairs(numbers)
    if not all_in_order(sink.order, pairs.shape[1]):
        pairs, phased = pairs[:, sink.order], phased[:, sink.order]
    codes = np.array(pairs, dtype=np.int8, copy=True)
    haploid = (codes[..., 1] == -2) & (codes[..., 0] >= 0)
    n_haploid = np.count_nonzero(haploid, axis=1)
    if n_haploid.any():
        codes[..., 1] = np.where(haploid, codes[..., 0], codes[..., 1])
        phased = phased | haploid
    swapped = np.array([int(item[3][0]) == 1 for item in batch])
    if swapped.any():
        part = codes[swapped]
        codes[swapped] = np.where(part >= 0, 1 - part, part)
    np.maximum(codes, -1, out=codes)
    sink.fill_codes([item[0] for item in batch], codes, phased, False, n_haploid)


def _store_values(batch, sink: RecordSink, read_values: ValueReader | None) -> None:
    """Store the dosage values of taken records, when the sink reads a dosage field."""
    if sink.dosage is None:
        return
    numbers = np.array([item[4] for item in batch], dtype=np.int64)
    values = read_values(numbers, sink.genotype_field) if read_values is not None else None
    for k, (j, kind, alleles, lut, _) in enumerate(batch):
        row = values[k][sink.order] if values is not None else None
        sink.fill_dosage(j, kind, alleles, lut, row)


def _store(
    batch: list[tuple[int, str, list[str], np.ndarray, int]],
    sink: RecordSink,
    read_calls: CallReader,
    read_values: ValueReader | None,
) -> None:
    """Read and store one batch of taken records (file order: a later, better one wins)."""
    numbers = np.array([item[4] for item in batch], dtype=np.int64)
    calls = read_calls(numbers)[:, sink.order]
    codes, phased, haploid = batch_array_codes(calls, [item[3] for item in batch])
    sink.fill_codes([item[0] for item in batch], codes, phased, haploid=haploid)
    _store_values(batch, sink, read_values)
