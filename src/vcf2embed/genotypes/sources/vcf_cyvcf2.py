"""Any indexed VCF or BCF through cyvcf2 (htslib): every genotype field, any layout."""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...progress import track
from ..paths import check_indexed
from ..quality import INFO_KEYS
from ..records import RecordSink, SourceHeader, array_codes, batch_array_codes
from .base import Source

log = logging.getLogger(__name__)


def _htslib_error(exc: BaseException) -> bool:
    """True for what cyvcf2 raises when htslib fails: OSError, or a bare `Exception`."""
    return type(exc) is Exception or isinstance(exc, OSError)


@contextlib.contextmanager
def htslib_messages(path: Path) -> Iterator[list[str]]:
    """Catch what htslib (inside cyvcf2) prints on stderr; its errors get its first message line.

    htslib writes straight to file descriptor 2; the lines are collected and logged as warnings,
    and an htslib failure inside the block names the file and htslib's own first error.
    """
    collected: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield collected
        except OSError as exc:
            raise InputError(_htslib_failure(path, sink, saved, exc)) from None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            collected.extend(sink.read().decode(errors="replace").splitlines())
    for line in collected:
        log.warning("%s: htslib: %s", path, line)


def _htslib_failure(path: Path, sink, saved: int, exc: BaseException) -> str:
    """The message of an htslib failure: the file and htslib's first error line."""
    os.dup2(saved, 2)
    sink.seek(0)
    lines = sink.read().decode(errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("[E::")] or lines
    detail = errors[0] if errors else str(exc)
    return f"{path}: cannot be read as VCF/BCF (htslib: {detail})"


def _call(function, *args):
    """`function(*args)` of cyvcf2, its bare `Exception` for an htslib failure an OSError."""
    try:
        return function(*args)
    except Exception as exc:
        if not _htslib_error(exc):
            raise
        raise OSError(str(exc)) from None


def _records(vcf, region: str) -> Iterator:
    """cyvcf2's records of `region`; a read failure is an OSError."""
    iterator = _call(iter, _call(vcf, region))
    while (rec := _call(next, iterator, None)) is not None:
        yield rec


def open_vcf(path: Path):
    """Open an indexed VCF/BCF with cyvcf2 and check its samples."""
    from cyvcf2 import VCF

    try:
        with htslib_messages(path):
            vcf = _call(lambda: VCF(str(path), strict_gt=True, lazy=True))
    except InputError:
        duplicate = _duplicate_sample_in_text_header(path)
        if duplicate:
            raise InputError(
                f"{path}: sample ID {duplicate!r} appears more than once in the header"
            ) from None
        raise
    return vcf


def _duplicate_sample_in_text_header(path: Path) -> str | None:
    """Return a duplicated sample ID of a text VCF's #CHROM line (htslib refuses such headers)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            for line in fh:
                if line.startswith("#CHROM"):
                    seen: set[str] = set()
                    for sid in line.rstrip("\n").split("\t")[9:]:
                        if sid in seen:
                            return sid
                        seen.add(sid)
                    return None
                if not line.startswith("#"):
                    return None
    except (OSError, UnicodeDecodeError, EOFError):
        return None
    return None


def format_ids(vcf) -> frozenset[str]:
    """The FORMAT IDs a cyvcf2 header declares."""
    return frozenset(h.info().get("ID") for h in vcf.header_iter() if h.type == "FORMAT")


def _quality(rec) -> float | None:
    """A record's imputation quality: INFO R2, else DR2, else INFO."""
    for key in INFO_KEYS:
        value = rec.INFO.get(key)
        if value is not None:
            return float(value[0] if isinstance(value, tuple) else value)
    return None


class _CallBatch:
    """Records' calls collected for one `fill_codes`, decoded together."""

    def __init__(self, sink: RecordSink) -> None:
        self.sink = sink
        self.js: list[int] = []
        self.arrays: list[np.ndarray] = []
        self.luts: list[np.ndarray] = []

    def add(self, j: int, g: np.ndarray, lut: np.ndarray) -> None:
        """Queue variant `j`'s calls (cyvcf2 layout, output order) and lookup table."""
        self.js.append(j), self.arrays.append(g), self.luts.append(lut)

    def flush(self) -> None:
        """Decode the queued calls and store them."""
        if not self.js:
            return
        rows: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        diploid = [k for k, g in enumerate(self.arrays) if g.shape[1] == 3]
        if diploid:
            codes, phased, haploid = batch_array_codes(
                np.stack([self.arrays[k] for k in diploid]), [self.luts[k] for k in diploid]
            )
            for r, k in enumerate(diploid):
                rows[k] = (codes[r], phased[r], int(haploid[r]))
        for k in range(len(self.js)):
            if k not in rows:
                rows[k] = array_codes(self.arrays[k], self.luts[k])
        ks = range(len(self.js))
        self.sink.fill_codes(
            list(self.js),
            np.stack([rows[k][0] for k in ks]),
            np.stack([rows[k][1] for k in ks]),
            haploid=np.array([rows[k][2] for k in ks], dtype=np.int64),
        )
        self.js, self.arrays, self.luts = [], [], []


class Cyvcf2Source(Source):
    """Any indexed VCF/BCF, read record by record through cyvcf2."""

    reader = "cyvcf2"
    # ".gz": any bgzipped VCF, e.g. the lab's per-tile input_chr22<SUFFIX>.gz
    suffixes = (".vcf.gz", ".vcf.bgz", ".gz", ".bcf")
    description = "an indexed VCF or BCF"

    @classmethod
    def check_file(cls, path: Path) -> None:
        """Raise unless `path` exists with a current index."""
        check_indexed(path)

    def read_header(self) -> SourceHeader:
        """The header, as cyvcf2 opens the file."""
        self.vcf = open_vcf(self.path)
        return SourceHeader(list(self.vcf.samples), list(self.vcf.seqnames), format_ids(self.vcf))

    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Align every record of `region`, reading calls through cyvcf2."""
        with htslib_messages(self.path):
            self._read(region, sink, desc)

    def _read(self, region: str, sink: RecordSink, desc: str) -> None:
        has_gt = "GT" in self.header.fields
        order = sink.order
        group = max(1, min(256, (64 << 20) // max(1, 6 * len(order))))
        batch = _CallBatch(sink)
        for rec in track(_records(self.vcf, region), desc=desc, unit="records"):
            rec_alleles = [rec.REF.upper(), *(a.upper() for a in rec.ALT)]
            label = (rec.CHROM, rec.POS, rec.REF, ",".join(rec.ALT) or ".")
            chosen = sink.candidates(rec.POS, rec_alleles, label)
            if not chosen:
                continue
            gt = rec.genotype if has_gt else None
            g = gt.array()[order] if gt is not None else None
            values = None
            if sink.dosage is not None:
                values = rec.format(sink.genotype_field)
                values = values[order] if values is not None else None
            if sink.quality is not None:
                value = _quality(rec)
                for j, _, _ in chosen:
                    sink.quality[j] = np.nan if value is None else value
            for j, kind, lut in chosen:
                if g is None:
                    sink.missing_field()
                else:
                    batch.add(j, g, lut)
                sink.fill_dosage(j, kind, rec_alleles, lut, values)
            if len(batch.js) >= group:
                batch.flush()
        batch.flush()
