"""PLINK 2 `.pgen` (`.pvar`/`.pvar.zst`, `.psam`) and PLINK 1 `.bed` (`.bim`, `.fam`), through
pgenlib.

Sample IDs are the IIDs (FIDs are ignored: a cohort's IIDs must be unique). REF and ALT are the
`.pvar`'s; for a `.bim`, as PLINK 2 reads it, the last column (A2) is REF and the one before
(A1) ALT, which need not be the reference genome's alleles: the aligner's swap rule matches them
to the model either way. pgenlib reports an unphased heterozygous call with the lower allele
first and a haploid call as homozygous, as the aligner treats it. Dosages (`DS`) are the `.pgen`'s
ALT dosages, or its hard calls where it stores none.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TextIO

import numpy as np

from ...errors import InputError
from ..block_codes import counts_to_pairs
from ..quality import info_quality
from ..records import RecordSink, SourceHeader
from .base import Source
from .variant_table import RegionVariants, put_region

MISSING = -9


def companion(path: Path, *suffixes: str) -> Path:
    """The first existing file beside `path` with one of `suffixes`; an error naming them all."""
    stem = path.with_suffix("")
    tried = [stem.with_name(stem.name + s) for s in suffixes]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise InputError(
        f"{path}: its companion file is missing; expected {' or '.join(map(str, tried))}"
    )


def read_iids(path: Path) -> list[str]:
    """IIDs of a `.psam` (header `#FID`/`#IID`, or none) or `.fam` (FID IID ...)."""
    text = path.read_text()
    column, header_line, body = 1, 0, 0
    while text.startswith("#", body):  # `##` comment lines, then the header
        end = text.find("\n", body)
        end = len(text) if end < 0 else end
        line, body = text[body:end], end + 1
        header_line += 1
        if not line.startswith("##"):
            names = [f.lstrip("#") for f in line.split()]
            if "IID" not in names:
                raise InputError(f"{path}, line {header_line}: the header has no IID column")
            column = names.index("IID")
            break
    # one regular expression over the whole file: a per-line split is several times slower
    ids = _iid_pattern(column).findall(text, body)
    lines = text.count("\n", body) + (not text.endswith("\n") and body < len(text))
    if len(ids) != lines:  # blank or short lines: find a short one
        for lineno, line in enumerate(text.split("\n"), start=1):
            if lineno > header_line and not line.startswith("#") and line.strip():
                if len(line.split()) <= column:
                    raise InputError(
                        f"{path}, line {lineno}: expected an IID in column {column + 1}"
                    )
    if not ids:
        raise InputError(f"{path} lists no samples")
    return ids


@lru_cache(maxsize=4)
def _iid_pattern(column: int) -> re.Pattern:
    """The IID of each line: field `column` (0-based)."""
    return re.compile(rf"^(?:\S+[ \t]+){{{column}}}(\S+)", re.MULTILINE)


def _pgenlib():
    import pgenlib

    return pgenlib


class _PlinkSource(Source):
    """What PGEN and BED share: pgenlib's readers and a variant table searched by position."""

    sample_suffixes: tuple[str, ...] = ()
    variant_suffixes: tuple[str, ...] = ()

    def read_header(self) -> SourceHeader:
        """Samples from the sample file; contigs and variants from the variant file."""
        pg = _pgenlib()
        self.sample_file = companion(self.path, *self.sample_suffixes)
        self.variant_file = companion(self.path, *self.variant_suffixes)
        samples = read_iids(self.sample_file)
        try:
            self.pvar = pg.PvarReader(bytes(self.variant_file))
            self.pgen = pg.PgenReader(bytes(self.path), raw_sample_ct=len(samples), pvar=self.pvar)
        except RuntimeError as exc:
            raise InputError(self._problem(exc, len(samples))) from None
        self.check_sample_count(len(samples))
        self.n_samples = len(samples)
        self.phase_present = bool(self.pgen.hardcall_phase_present())
        self._buffers: dict[type, np.ndarray] = {}
        self.blocks = _contig_blocks(self.pvar)
        return SourceHeader(samples, list(self.blocks), frozenset({"GT", "DS"}))

    def check_sample_count(self, n: int) -> None:
        """Raise when the sample file lists another number of samples than the genotypes hold."""
        held = self.pgen.get_raw_sample_ct()
        if held != n:
            raise InputError(
                f"{self.sample_file} lists {n} samples but {self.path} holds {held}; use the "
                "sample file written with it"
            )

    def _problem(self, exc: RuntimeError, n: int) -> str:
        """What pgenlib's refusal means for the user."""
        return (
            f"{self.path}: pgenlib cannot read it with {n} samples ({self.sample_file.name}) and "
            f"the variants of {self.variant_file.name}: {str(exc).strip()}; check that the three "
            "files belong together and are complete"
        )

    def _damaged(self, exc: RuntimeError) -> str:
        """What a read failure inside the genotype file means for the user."""
        return (
            f"{self.path}: cannot be read (pgenlib: {str(exc).strip()}); the file may be "
            "truncated or damaged: copy it again, or rewrite it with plink2"
        )

    def region_variants(self, region: str) -> RegionVariants:
        """The variants of `region`, found by binary search on position."""
        contig, span = region.rsplit(":", 1)
        lo, hi = (int(x) for x in span.split("-"))
        first, last = self.blocks[contig]
        pos_of = self.pvar.get_variant_pos
        start = _bisect(pos_of, first, last, lo)
        stop = _bisect(pos_of, start, last, hi + 1)
        index = np.arange(start, stop, dtype=np.int64)
        pos = np.array([pos_of(i) for i in range(start, stop)], dtype=np.int64)
        alleles = [self._alleles(i) for i in range(start, stop)]
        # pgenlib reads a haploid call as homozygous, and PLINK 2 keeps no half-missing call
        return RegionVariants(
            contig, pos, alleles, index, self.n_samples, haploid=False, half_calls=False
        )

    def _alleles(self, i: int) -> tuple[str, ...]:
        code = self.pvar.get_allele_code
        return tuple(code(i, k).decode() for k in range(self.pvar.get_allele_ct(i)))

    def read_calls(self, numbers: np.ndarray) -> np.ndarray:
        """cyvcf2-layout calls of variants `numbers`, all samples."""
        pairs, phased = self.read_pairs(numbers, None)
        out = np.empty((*pairs.shape[:2], 3), dtype=np.int16)
        out[..., :2], out[..., 2] = pairs, phased
        return out

    def read_pairs(
        self, numbers: np.ndarray, into: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Allele indices (int8, negative when missing) and phased flags of variants `numbers`
        (biallelic, for a file without phase: from pgenlib's ALT counts, several times faster)."""
        k, n = len(numbers), self.n_samples
        pairs, phased = into or (np.empty((k, n, 2), np.int8), np.empty((k, n), dtype=bool))
        try:
            if self.phase_present:
                alleles = self._buffer(np.int32, k, 2 * n)
                self.pgen.read_alleles_and_phasepresent_list(
                    numbers.astype(np.uint32), alleles, phased.view(np.uint8)
                )
                np.copyto(pairs.reshape(k, 2 * n), alleles, casting="unsafe")
            else:
                counts = self._buffer(np.int8, k, n)
                self.pgen.read_list(numbers.astype(np.uint32), counts)
                counts_to_pairs(counts, pairs)
                phased[...] = False
        except RuntimeError as exc:
            raise InputError(self._damaged(exc)) from None
        return pairs, phased

    def _buffer(self, dtype: type, rows: int, width: int) -> np.ndarray:
        """A reused (rows, width) array for pgenlib to write into."""
        buffer = self._buffers.get(dtype)
        if buffer is None or len(buffer) < rows:
            buffer = self._buffers[dtype] = np.empty((rows, width), dtype=dtype)
        return buffer[:rows]

    def read_values(self, numbers: np.ndarray, field: str) -> np.ndarray | None:
        """ALT dosages (DS) of variants `numbers`; None for another field."""
        if field != "DS":
            return None
        out = np.empty((len(numbers), len(self.header.samples)), dtype=np.float32)
        try:
            self.pgen.read_dosages_list(numbers.astype(np.uint32), out)
        except RuntimeError as exc:
            raise InputError(self._damaged(exc)) from None
        out[out == MISSING] = np.nan
        return out[..., None]

    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Align every record of `region` (with the `.pvar`'s INFO quality when it is wanted)."""
        variants = self.region_variants(region)
        if sink.quality is not None and len(variants.index):
            first = int(variants.index[0])
            variants.quality = pvar_quality(self.variant_file, first, first + len(variants.index))
        put_region(variants, sink, self.read_calls, self.read_values, self.read_pairs)


def pvar_quality(path: Path, start: int, stop: int) -> np.ndarray | None:
    """INFO R2 (else DR2, else INFO) of variants [start, stop) of a `.pvar` or `.pvar.zst` (NaN
    where a record has none); None for a `.bim` or a `.pvar` without an INFO column."""
    if not path.name.endswith((".pvar", ".pvar.zst")):
        return None
    damaged: tuple[type[Exception], ...] = (OSError, UnicodeDecodeError)
    if path.suffix == ".zst":  # zstandard is imported only when a file needs it
        import zstandard

        damaged += (zstandard.ZstdError,)
    out = np.full(stop - start, np.nan)
    with _pvar_text(path) as fh:
        try:
            line = fh.readline()
            while line.startswith("##"):
                line = fh.readline()
            if not line.startswith("#") or "INFO" not in line[1:].split():
                return None
            column = line[1:].split().index("INFO")
            for k, line in enumerate(islice(fh, start, stop)):  # skipped lines are not parsed
                fields = line.rstrip("\n").split("\t")
                value = info_quality(fields[column]) if len(fields) > column else None
                out[k] = np.nan if value is None else value
        except damaged as exc:
            raise InputError(f"{path}: cannot be read ({exc}); the file may be damaged") from None
    return out


def _pvar_text(path: Path) -> TextIO:
    """A `.pvar`'s lines, decompressed as they are read when it is a `.pvar.zst`."""
    if path.suffix != ".zst":
        return open(path, encoding="utf-8")
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(
        open(path, "rb"), read_across_frames=True, closefd=True
    )
    return io.TextIOWrapper(reader, encoding="utf-8")


def _bisect(key, lo: int, hi: int, value: int) -> int:
    """The first index in [lo, hi) whose key is >= value (keys sorted)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if key(mid) < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _contig_blocks(pvar) -> dict[str, tuple[int, int]]:
    """Each contig's [first, end) variant numbers; contigs must be contiguous, as PLINK keeps them."""
    n = pvar.get_variant_ct()
    chrom = pvar.get_variant_chrom
    blocks: dict[str, tuple[int, int]] = {}
    start = 0
    while start < n:
        name = _name(chrom(start))
        lo, hi = start + 1, n
        while lo < hi:  # the end of this contig's block
            mid = (lo + hi) // 2
            if _name(chrom(mid)) == name:
                lo = mid + 1
            else:
                hi = mid
        blocks[name] = (start, lo)
        start = lo
    return blocks


def _name(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PgenSource(_PlinkSource):
    """A PLINK 2 `.pgen` with its `.pvar` (or `.pvar.zst`) and `.psam`."""

    reader = "pgen"
    suffixes = (".pgen",)
    description = "a PLINK 2 .pgen with .pvar (or .pvar.zst) and .psam beside it"
    sample_suffixes = (".psam",)
    variant_suffixes = (".pvar", ".pvar.zst")


class BedSource(_PlinkSource):
    """A PLINK 1 `.bed` with its `.bim` and `.fam` (hard calls only)."""

    reader = "bed"
    suffixes = (".bed",)
    description = "a PLINK 1 .bed with .bim and .fam beside it"
    sample_suffixes = (".fam",)
    variant_suffixes = (".bim",)

    def check_sample_count(self, n: int) -> None:
        """Raise when the `.bed`'s size does not fit the `.fam`'s samples and the `.bim`'s
        variants (a `.bed` records neither count: a `.fam` short by fewer samples than the
        padding of each variant's last byte cannot be told)."""
        expected = 3 + self.pvar.get_variant_ct() * -(-n // 4)
        size = self.path.stat().st_size
        if size != expected:
            raise InputError(
                f"{self.path} holds {size} bytes, but {n} samples ({self.sample_file.name}) x "
                f"{self.pvar.get_variant_ct()} variants ({self.variant_file.name}) need "
                f"{expected}; use the .fam and .bim written with it"
            )

    def read_header(self) -> SourceHeader:
        """As for PGEN; a `.bed` holds hard calls only."""
        header = super().read_header()
        return SourceHeader(header.samples, header.contigs, frozenset({"GT"}))
