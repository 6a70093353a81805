"""VCF Zarr (`.vcz`, as bio2zarr's `vcf2zarr` writes it), through zarr.

Sample IDs are `sample_id`; calls are `call_genotype` (-1 missing, -2 the absent second allele
of a haploid call, as cyvcf2 reports them) with `call_genotype_phased`; `call_DS` and `call_GP`
are read when present. Variants are sorted by contig and position, so a region is one slice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ...errors import InputError
from ..records import RecordSink, SourceHeader
from .base import Source
from .variant_table import RegionVariants, put_region

REQUIRED = ("sample_id", "contig_id", "variant_contig", "variant_position", "variant_allele")


class VczSource(Source):
    """A VCF Zarr store (a folder, or a `.zip` of one)."""

    reader = "vcz"
    suffixes = (".vcz", ".zarr")
    description = "a VCF Zarr store as vcf2zarr writes it"

    def read_header(self) -> SourceHeader:
        """Samples, contigs and per-call fields from the store's arrays."""
        import zarr

        try:
            self.root = zarr.open_group(str(self.path), mode="r")
            self._opened: dict[str, object] = {}
            self.names = self._array_names()
            missing = [name for name in REQUIRED if name not in self.names]
            if missing:
                raise InputError(
                    f"{self.path}: not a VCF Zarr store (no {', '.join(missing)}); write one "
                    "with `vcf2zarr convert in.vcf.gz out.vcz`"
                )
            samples = _strings(self._open("sample_id")[:])
            contigs = _strings(self._open("contig_id")[:])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{self.path}: cannot be read as VCF Zarr ({exc})") from None
        fields = {"GT"} if "call_genotype" in self.names else set()
        fields |= {k[5:] for k in self.names if k in ("call_DS", "call_GP")}
        return SourceHeader(samples, contigs, frozenset(fields))

    def _array_names(self) -> frozenset[str]:
        """The store's arrays: a folder's subfolders that hold array metadata (zarr's own
        listing opens every array's metadata, and each `in` lists again)."""
        if not self.path.is_dir():
            return frozenset(self.root.array_keys())
        return frozenset(
            entry.name
            for entry in os.scandir(self.path)
            if entry.is_dir()
            and any(Path(entry.path, meta).is_file() for meta in (".zarray", "zarr.json"))
        )

    def _open(self, name: str):
        """Array `name`, its metadata read once."""
        if name not in self._opened:
            self._opened[name] = self.root[name]
        return self._opened[name]

    @contextmanager
    def _reading(self, name: str) -> Iterator[None]:
        """Turn zarr's error for a damaged or missing chunk into one that names the array."""
        try:
            yield
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"{self.path}: array {name} cannot be read ({exc})") from None

    def _array(self, name: str, index=slice(None)) -> np.ndarray:
        """One array's values (a slice)."""
        with self._reading(name):
            return self._open(name)[index]

    def region_variants(self, region: str) -> RegionVariants:
        """The variants of `region`: one slice of the sorted variant arrays."""
        contig, span = region.rsplit(":", 1)
        lo, hi = (int(x) for x in span.split("-"))
        code = self.header.contigs.index(contig)
        first, end = self._candidate_rows(code, lo, hi)
        here = self._array("variant_contig", slice(first, end)) == code
        pos = self._array("variant_position", slice(first, end)).astype(np.int64)
        inside = np.flatnonzero(here & (pos >= lo) & (pos <= hi))  # one run: sorted by position
        start, stop = (
            (first + int(inside[0]), first + int(inside[-1]) + 1) if len(inside) else (0, 0)
        )
        table = self._array("variant_allele", slice(start, stop))
        alleles = [tuple(str(a) for a in row if str(a)) for row in table]
        quality = next(
            (
                self._array(name, slice(int(start), int(stop)))
                .astype(np.float64)
                .reshape(int(stop - start), -1)[:, 0]
                for name in ("variant_R2", "variant_DR2", "variant_INFO")
                if name in self.names
            ),
            None,
        )
        chunks = self._open("call_genotype").chunks if "call_genotype" in self.names else None
        return RegionVariants(
            contig,
            pos[start - first : stop - first] if stop > start else pos[:0],
            alleles,
            np.arange(start, stop),
            len(self.header.samples),
            quality,
            read_rows=chunks[0] if chunks else None,
            read_cols=chunks[1] if chunks else None,
        )

    def _candidate_rows(self, code: int, lo: int, hi: int) -> tuple[int, int]:
        """The rows [first, end) of the variant chunks that may hold contig `code`'s variants
        in [lo, hi]: from vcf2zarr's `region_index` (per chunk and contig: first and last
        position, record count), else every row (an older store reads them all)."""
        n = self._open("variant_position").shape[0]
        if "region_index" not in self.names:
            return 0, n
        index = self._array("region_index")
        chunk = self._open("variant_position").chunks[0]
        # columns: chunk, contig, start, end, max end, records
        hit = (index[:, 1] == code) & (index[:, 2] <= hi) & (index[:, 4] >= lo)
        if not hit.any():
            return 0, 0
        chunks = index[hit, 0]
        return int(chunks.min()) * chunk, min(n, (int(chunks.max()) + 1) * chunk)

    def _rows(self, name: str, numbers: np.ndarray, cols: slice = slice(None)) -> np.ndarray:
        """Rows `numbers` (increasing; samples `cols`) of a variant-major array: when they are
        dense, the slice that spans them and then the rows (zarr's orthogonal indexing is
        several times slower)."""
        with self._reading(name):
            array = self._open(name)
            first, last = (int(numbers[0]), int(numbers[-1])) if len(numbers) else (0, -1)
            if last - first + 1 > max(2 * len(numbers), array.chunks[0]):
                return array.oindex[numbers, cols] if array.ndim > 1 else array.oindex[numbers]
            span = array[first : last + 1, cols] if array.ndim > 1 else array[first : last + 1]
            return span if last - first == len(numbers) - 1 else span[numbers - first]

    def read_calls(self, numbers: np.ndarray) -> np.ndarray:
        """cyvcf2-layout calls of variants `numbers`, all samples."""
        gt = self._rows("call_genotype", numbers)
        if gt.shape[2] > 2:
            raise InputError(f"{self.path}: ploidy {gt.shape[2]}; only haploid and diploid calls")
        out = np.full((*gt.shape[:2], 3), -2, dtype=np.int16)
        out[..., : gt.shape[2]] = gt
        out[..., 2] = (
            self._rows("call_genotype_phased", numbers)
            if "call_genotype_phased" in self.names
            else 0
        )
        return out

    def read_pairs(
        self,
        numbers: np.ndarray,
        into: tuple[np.ndarray, np.ndarray] | None,
        cols: slice = slice(None),
    ) -> tuple[np.ndarray, np.ndarray]:
        """`call_genotype` (int8: -1 missing, -2 absent) and phased flags of variants `numbers`
        (samples `cols`); consecutive variants are decoded straight into `into`."""
        if into is not None and self._decode_into(numbers, cols, into):
            return into
        gt = self._rows("call_genotype", numbers, cols)
        if gt.shape[2] != 2:
            calls = self.read_calls(numbers)[:, cols]
            gt, phased = calls[..., :2].astype(np.int8), calls[..., 2].astype(bool)
        elif "call_genotype_phased" in self.names:
            phased = self._rows("call_genotype_phased", numbers, cols).astype(bool, copy=False)
        else:
            phased = np.zeros(gt.shape[:2], dtype=bool)
        if into is None:
            return gt.astype(np.int8, copy=False), phased
        into[0][...], into[1][...] = gt, phased
        return into

    def _decode_into(
        self, numbers: np.ndarray, cols: slice, into: tuple[np.ndarray, np.ndarray]
    ) -> bool:
        """Decode consecutive rows of diploid int8 calls (and phased flags) into `into`, with no
        array in between; False (nothing read) when the arrays or the rows do not allow it."""
        gt = self._open("call_genotype")
        dense = len(numbers) and numbers[-1] - numbers[0] == len(numbers) - 1
        if not dense or gt.dtype != np.int8 or gt.shape[2] != 2:
            return False
        rows = (slice(int(numbers[0]), int(numbers[-1]) + 1), cols)
        self._decode("call_genotype", rows, into[0])
        if "call_genotype_phased" in self.names:
            self._decode("call_genotype_phased", rows, into[1])
        else:
            into[1][...] = False
        return True

    def _decode(self, name: str, rows: tuple[slice, slice], out: np.ndarray) -> None:
        """Decode `rows` of array `name` into `out`, with a clear error for a damaged chunk."""
        with self._reading(name):
            self._open(name).get_basic_selection(rows, out=_out_buffer(out))

    def read_values(self, numbers: np.ndarray, field: str) -> np.ndarray | None:
        """`call_DS` or `call_GP` of variants `numbers` (NaN where missing)."""
        name = f"call_{field}"
        if name not in self.names:
            return None
        values = self._rows(name, numbers).astype(np.float32)
        values[np.isnan(values)] = np.nan  # vcf2zarr's missing and fill values are signalling NaNs
        return values[..., None] if values.ndim == 2 else values

    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Align every record of `region`."""
        put_region(
            self.region_variants(region), sink, self.read_calls, self.read_values, self.read_pairs
        )


def _strings(array: np.ndarray) -> list[str]:
    """A string array's values as `str` (zarr 3 gives numpy strings, zarr 2 objects or bytes)."""
    values = array.tolist()
    if array.dtype.kind in "TU":
        return values
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _out_buffer(array: np.ndarray):
    """`array` as the `out` of a zarr read (zarr 3 wants its own buffer type; zarr 2 numpy)."""
    try:
        from zarr.core.buffer.cpu import NDBuffer
    except ImportError:  # zarr 2
        return array
    return NDBuffer.from_numpy_array(array)
