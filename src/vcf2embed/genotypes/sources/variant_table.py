"""Records of a region from formats that index variants and read calls by variant number
(PGEN, PLINK 1 BED, BGEN, VCF Zarr): one loop that turns them into sink records.

A source lists the region's variants (position, alleles, number in the file) as a
`RegionVariants` and reads the calls of any of them in cyvcf2's layout ((samples, 3) int16:
allele indices, -1 missing, -2 absent, phased flag), all samples in file order; this module asks
the sink which records it wants and hands it their calls a batch at a time. Biallelic records
are read straight into the sink's rows where they can be, and converted to model codes on a
helper thread (`helper_thread`) while the next block is read, when the sink has 2 threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..block_codes import finish_pairs
from ..helper_thread import HelperThread
from ..records import EXACT_LUT, SWAPPED_LUT, RecordSink, all_in_order, batch_array_codes

CALL_BATCH_BYTES = 64 << 20  # calls read at once: bounds the temporaries
CACHE_BLOCK_BYTES = 2 << 20  # codes converted at once: stays in the CPU's cache
SPAN_BYTES = 128 << 20  # a chunked store's rows read at once (calls and phased flags)


@dataclass
class RegionVariants:
    """The variants of one region of a file, in file order."""

    contig: str
    pos: np.ndarray  # int64
    alleles: list[tuple[str, ...]]
    index: np.ndarray  # each variant's number in the file
    n_samples: int  # samples in the file
    quality: np.ndarray | None = None  # imputation quality, when the format carries one
    # calls may hold -2, the absent second allele of a haploid call; and a call may miss one
    # allele only (`./1`). A source may turn either on as it reads, before it hands such calls over
    haploid: bool = True
    half_calls: bool = True
    read_rows: int | None = None  # variants a read should take at once (a storage chunk)
    read_cols: int | None = None  # samples of a storage chunk, when reads can take a slice


# read_calls(indices) -> (len(indices), samples, 3) int16 in cyvcf2's layout, file sample order
CallReader = Callable[[np.ndarray], np.ndarray]
# read_values(indices, field) -> (len(indices), samples, values per call) float, NaN missing
ValueReader = Callable[[np.ndarray, str], "np.ndarray | None"]
# read_pairs(indices, into) -> ((len(indices), samples, 2) int8 allele indices, negative when
# missing, -2 the absent second allele of a haploid call; (len(indices), samples) bool phased),
# file sample order; written into `into` (a pair of such arrays) unless it is None. A source
# with `read_cols` also takes a third argument, a slice of the samples to read.
PairReader = Callable[..., tuple[np.ndarray, np.ndarray]]
# a variant a sink takes: (model index, kind, record alleles, allele lookup table, file number)
Wanted = tuple[int, str, list[str], np.ndarray, int]


def put_region(
    region: RegionVariants,
    sink: RecordSink,
    read_calls: CallReader,
    read_values: ValueReader | None = None,
    read_pairs: PairReader | None = None,
) -> None:
    """Offer every variant of `region` to `sink` and store the calls of those it takes."""
    wanted = _wanted(region, sink)
    # a variant's last record is the one it keeps (a record is taken only when it is better):
    # with the records it replaced left out, the two paths can take their records apart
    last = {item[0]: k for k, item in enumerate(wanted)}
    wanted = [item for k, item in enumerate(wanted) if last[item[0]] == k]
    simple: list[Wanted] = []
    other: list[Wanted] = []
    for item in wanted:
        (simple if read_pairs is not None and _simple(item[3]) else other).append(item)
    if simple:
        _store_simple(simple, sink, read_pairs, region)
    step = max(1, CALL_BATCH_BYTES // (8 * max(1, len(sink.order))))
    for first in range(0, len(other), step):
        _store(other[first : first + step], sink, read_calls)
    for first in range(0, len(wanted), step):
        _store_values(wanted[first : first + step], sink, read_values)


def _wanted(region: RegionVariants, sink: RecordSink) -> list[Wanted]:
    """The records of `region` the sink takes, in file order."""
    wanted: list[Wanted] = []
    exact = sink.exact_alleles()
    for pos, alleles, number in zip(region.pos.tolist(), region.alleles, region.index.tolist()):
        if pos not in sink.by_pos:
            sink.skip()
            continue
        label = (region.contig, pos, alleles[0], ",".join(alleles[1:]) or ".")
        upper = [a.upper() for a in alleles]
        taken = _claim_biallelic(sink, exact, pos, upper, label) if len(upper) == 2 else None
        if taken is None:
            taken = sink.candidates(pos, upper, label)
        for j, kind, lut in taken:
            wanted.append((j, kind, upper, lut, number))
            if sink.quality is not None and region.quality is not None:
                sink.quality[j] = region.quality[number - region.index[0]]
    return wanted


def _claim_biallelic(
    sink: RecordSink, exact: dict, pos: int, alleles: list[str], label: tuple
) -> list[tuple[int, str, np.ndarray]] | None:
    """A biallelic record claimed as the exact or swapped match of the variant alone at its
    position; None when that variant has a record already (`candidates` weighs the two)."""
    ref, alt = alleles
    for key, kind, lut in (
        ((pos, ref, alt), "exact", EXACT_LUT),
        ((pos, alt, ref), "swapped", SWAPPED_LUT),
    ):
        j = exact.get(key)
        if j is not None:
            return [(j, kind, lut)] if sink.claim_one(j, label, kind) else None
    return None


def _simple(lut: np.ndarray) -> bool:
    """A biallelic record holding the model's alleles, in order or swapped."""
    return len(lut) == 2 and {int(lut[0]), int(lut[1])} == {0, 1}


def block_rows(n_samples: int) -> int:
    """Records whose codes fill about one cache block."""
    return max(1, CACHE_BLOCK_BYTES // (2 * max(1, n_samples)))


def _store_simple(
    run: list[Wanted], sink: RecordSink, read_pairs: PairReader, region: RegionVariants
) -> None:
    """Store biallelic records' calls from their allele indices, converted a cache block at a
    time: a storage chunk's rows decoded once into the sink's rows (chunked stores), else read
    a cache block at a time (straight into the sink's rows where they are consecutive)."""
    identity = all_in_order(sink.order, region.n_samples)
    if region.read_rows and identity:
        buffer = _slab_buffer(region)
        for part in _parts(run, region.read_rows):
            _store_by_columns(part, sink, read_pairs, region, buffer)
    elif region.read_rows:
        _store_spans(run, sink, read_pairs, region)
    else:
        rows = block_rows(region.n_samples)
        with HelperThread(sink.threads) as helper:
            for block in _parts(run, rows, consecutive=identity):
                into = sink.destination([item[0] for item in block]) if identity else None
                codes, phased = read_pairs(_numbers(block), into)
                helper.submit(_finish_block, block, sink, codes, phased, region, identity)


def _store_spans(
    run: list[Wanted], sink: RecordSink, read_pairs: PairReader, region: RegionVariants
) -> None:
    """A chunked store's records for a reordered or subset sample list: the span of each
    chunk's rows they need (at most `SPAN_BYTES`), read once and converted from there."""
    rows = block_rows(region.n_samples)
    span = min(region.read_rows, max(rows, SPAN_BYTES // (3 * max(1, region.n_samples))))
    for part in _parts(run, span):
        first = part[0][4]
        codes, phased = read_pairs(np.arange(first, part[-1][4] + 1), None)
        for start in range(0, len(part), rows):
            block = part[start : start + rows]
            at = _numbers(block) - first
            _finish_block(block, sink, codes[at], phased[at], region, False)


def _slab_buffer(region: RegionVariants) -> tuple[np.ndarray, np.ndarray]:
    """Room for one storage chunk's rows of `_slab_width` samples (calls, phased flags)."""
    width = _slab_width(region)
    return (
        np.empty((region.read_rows, width, 2), dtype=np.int8),
        np.empty((region.read_rows, width), dtype=bool),
    )


def _slab_width(region: RegionVariants) -> int:
    """Samples decoded at once: whole sample chunks, as many as `SPAN_BYTES` hold."""
    chunk = region.read_cols or region.n_samples
    chunks = max(1, SPAN_BYTES // (3 * region.read_rows * chunk))
    return min(region.n_samples, chunk * chunks)


def _store_by_columns(
    part: list[Wanted],
    sink: RecordSink,
    read_pairs: PairReader,
    region: RegionVariants,
    buffer: tuple[np.ndarray, np.ndarray],
) -> None:
    """One storage chunk's rows decoded into the sink's rows: straight there when the records
    lie in the sink's rows as in the file, else a sample chunk at a time through `buffer`
    (memory: one chunk, not a span of every sample); then converted a cache block at a time."""
    first = part[0][4]
    numbers = np.arange(first, part[-1][4] + 1)
    at = _numbers(part) - first
    js = [item[0] for item in part]
    span = sink.span_rows(js, at.tolist())
    if span is not None:
        _decode_span(part, sink, read_pairs, region, span)
        return
    rows = sink.destination(js)
    if rows is not None:
        _store_slabs(part, sink, read_pairs, region, buffer, rows)
        return
    width = buffer[1].shape[1]
    for start in range(0, region.n_samples, width):
        cols = slice(start, min(region.n_samples, start + width))
        full = cols.stop - cols.start == width
        into = (buffer[0][: len(numbers)], buffer[1][: len(numbers)]) if full else None
        codes, phased = read_pairs(numbers, into, cols)
        sink.write_columns(js, cols, codes, phased, at.tolist())
    step = block_rows(region.n_samples)
    for start in range(0, len(part), step):
        block = part[start : start + step]
        codes, phased = sink.rows([item[0] for item in block])
        _finish_block(block, sink, codes, phased, region, True)


def _decode_span(
    part: list[Wanted],
    sink: RecordSink,
    read_pairs: PairReader,
    region: RegionVariants,
    span: tuple[np.ndarray, np.ndarray],
) -> None:
    """A storage chunk's rows decoded straight into the sink's `span` of rows (where the part's
    records lie as they lie in the file), a slab of samples at a time, each converted (on a
    helper thread when the sink has threads) while the next is decoded; the rows between the
    part's records are converted too, and left for other records or the sink's `finish`."""
    first = part[0][4]
    numbers = np.arange(first, part[-1][4] + 1)
    at = _numbers(part) - first
    flip = np.zeros(len(numbers), dtype=bool)
    flip[at] = [int(item[3][0]) == 1 for item in part]
    counts = np.zeros((len(numbers), 4), dtype=np.int64)
    codes, phased = span
    width = _slab_width(region)
    with HelperThread(_slab_threads(sink, region, width)) as helper:
        for start in range(0, region.n_samples, width):
            cols = slice(start, min(region.n_samples, start + width))
            read_pairs(numbers, (codes[:, cols], phased[:, cols]), cols)
            helper.submit(_finish_slab, codes[:, cols], phased[:, cols], flip, region, counts)
    sink.store_in_place([item[0] for item in part], counts[at])


def _store_slabs(
    part: list[Wanted],
    sink: RecordSink,
    read_pairs: PairReader,
    region: RegionVariants,
    buffer: tuple[np.ndarray, np.ndarray],
    rows: tuple[np.ndarray, np.ndarray],
) -> None:
    """A storage chunk's rows, with rows the sink does not take between them, into the sink's
    consecutive `rows` a slab of samples at a time: each slab converted (on a helper thread
    when the sink has threads) while the next one is decoded."""
    first = part[0][4]
    numbers = np.arange(first, part[-1][4] + 1)
    at = (_numbers(part) - first).tolist()
    js = [item[0] for item in part]
    flip = np.array([int(item[3][0]) == 1 for item in part])
    counts = np.zeros((len(part), 4), dtype=np.int64)
    width = buffer[1].shape[1]
    with HelperThread(_slab_threads(sink, region, width)) as helper:
        for start in range(0, region.n_samples, width):
            cols = slice(start, min(region.n_samples, start + width))
            full = cols.stop - cols.start == width
            into = (buffer[0][: len(numbers)], buffer[1][: len(numbers)]) if full else None
            codes, phased = read_pairs(numbers, into, cols)
            sink.write_columns(js, cols, codes, phased, at)
            helper.submit(_finish_slab, rows[0][:, cols], rows[1][:, cols], flip, region, counts)
    sink.store_counted(js, rows[0], rows[1], counts)


def _slab_threads(sink: RecordSink, region: RegionVariants, width: int) -> int:
    """The sink's threads, or 1 when the samples fit one slab (nothing to convert beside)."""
    return sink.threads if region.n_samples > width else 1


def _finish_slab(
    codes: np.ndarray, phased: np.ndarray, flip: np.ndarray, region: RegionVariants, counts
) -> None:
    """Turn a slab of samples of consecutive rows into model codes, a cache block at a time,
    adding each row's call counts to `counts`."""
    step = block_rows(codes.shape[1])
    for start in range(0, len(codes), step):
        rows = slice(start, start + step)
        counts[rows] += finish_pairs(
            codes[rows], phased[rows], flip[rows], region.haploid, region.half_calls
        )


def _parts(run: list[Wanted], size: int, consecutive: bool = False) -> list[list[Wanted]]:
    """`run` cut where a storage chunk of `size` variants ends, and at most `size` long (and,
    when `consecutive`, where the sink's rows of its variants are not consecutive)."""
    parts: list[list[Wanted]] = []
    for item in run:
        last = parts[-1] if parts else None
        if (
            last
            and len(last) < size
            and last[0][4] // size == item[4] // size
            and (not consecutive or item[0] == last[-1][0] + 1)
        ):
            last.append(item)
        else:
            parts.append([item])
    return parts


def _numbers(batch: list[Wanted]) -> np.ndarray:
    return np.array([item[4] for item in batch], dtype=np.int64)


def _finish_block(
    block: list[Wanted],
    sink: RecordSink,
    codes: np.ndarray,
    phased: np.ndarray,
    region: RegionVariants,
    identity: bool,
) -> None:
    """Turn one block's allele indices into model codes (swapped records flipped) and store
    them; `codes` may already be the sink's own rows."""
    if not identity:
        codes, phased = codes[:, sink.order], phased[:, sink.order]
    flip = np.array([int(item[3][0]) == 1 for item in block])  # swapped: 0 <-> 1
    counts = finish_pairs(codes, phased, flip, region.haploid, region.half_calls)
    sink.store_counted([item[0] for item in block], codes, phased, counts)


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
    batch: list[Wanted],
    sink: RecordSink,
    read_calls: CallReader,
) -> None:
    """Read and store one batch of taken records (file order: a later, better one wins)."""
    numbers = np.array([item[4] for item in batch], dtype=np.int64)
    calls = read_calls(numbers)[:, sink.order]
    codes, phased, haploid = batch_array_codes(calls, [item[3] for item in batch])
    sink.fill_codes([item[0] for item in batch], codes, phased, haploid=haploid)
