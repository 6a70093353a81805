"""BGEN (1.1-1.3; 8, 16 or 32-bit probabilities; phased or unphased), through the `bgen` package.

Sample IDs come from the file's sample block, else from a `.sample` beside it (column ID_2, as
PLINK writes it). A `.bgi` index (bgenix) finds a region at once; without one, every variant
header is read at each opening, and a warning says how to make the index.

BGEN holds probabilities, not calls. Hard calls (GT) follow PLINK 2's rule: the most probable
genotype (or, for phased data, each haplotype's most probable allele) when its probability is at
least `HARD_CALL_MIN`, else missing. `DS` is the expected count of the second allele, `GP` the
genotype probabilities (for phased data, from the haplotype probabilities).
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import deflate
import numpy as np

from ...errors import InputError
from ..records import RecordSink, SourceHeader
from .base import Source
from .bgen_layout2 import genotype_block, hard_calls
from .variant_table import RegionVariants, put_region

log = logging.getLogger(__name__)

HARD_CALL_MIN = 0.9  # PLINK 2's --hard-call-threshold 0.1


def read_sample_file(path: Path) -> list[str]:
    """ID_2 of a `.sample` file (two header lines)."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 3 or lines[0][:2] != ["ID_1", "ID_2"]:
        raise InputError(f"{path}: not a .sample file (expected a header `ID_1 ID_2 ...`)")
    return [fields[1] for fields in lines[2:]]


def _diploid_pairs(n_alleles: int) -> np.ndarray:
    """(genotypes, 2) allele pairs in VCF (and BGEN) genotype order: 0/0, 0/1, 1/1, 0/2, ..."""
    return np.array([(a, b) for b in range(n_alleles) for a in range(b + 1)], dtype=np.int16)


class BgenSource(Source):
    """A BGEN file, its `.bgi` index and `.sample` file beside it when present."""

    reader = "bgen"
    suffixes = (".bgen",)
    description = "a BGEN file (.bgi index and .sample beside it when present)"

    def read_header(self) -> SourceHeader:
        """Samples and contigs (from the index or the variant headers)."""
        from bgen import BgenReader

        self._file = None
        indexed = Path(f"{self.path}.bgi").exists()
        if not indexed:
            log.warning(
                "%s has no .bgi index: every variant header is read at each opening; make one "
                "with `bgenix -g %s -index`",
                self.path,
                self.path,
            )
        try:
            self.bgen = BgenReader(str(self.path), delay_parsing=indexed)
            n = self.bgen.header.nsamples
            has_ids = self.bgen.header.has_sample_ids
            samples = self.bgen.samples if has_ids else self._sample_file(n)
            contigs = sorted(set(self.bgen.chroms()))
        except (OSError, ValueError, RuntimeError, IndexError) as exc:
            raise InputError(f"{self.path}: cannot be read as BGEN ({exc})") from None
        if len(samples) != n:
            raise InputError(f"{self.path}: {n} samples, but its sample IDs list {len(samples)}")
        return SourceHeader(list(samples), contigs, frozenset({"GT", "DS", "GP"}))

    def _sample_file(self, n: int) -> list[str]:
        """IDs from the `.sample` beside a file without a sample block."""
        path = self.path.with_suffix(".sample")
        if not path.is_file():
            raise InputError(
                f"{self.path} stores no sample IDs and {path} does not exist; put the .sample "
                "file beside it"
            )
        ids = read_sample_file(path)
        if len(ids) != n:
            raise InputError(f"{path} lists {len(ids)} samples, but {self.path} holds {n}")
        return ids

    def region_variants(self, region: str) -> RegionVariants:
        """The variants of `region` (their readers kept, their probabilities not yet read)."""
        contig, span = region.rsplit(":", 1)
        lo, hi = (int(x) for x in span.split("-"))
        try:
            if Path(f"{self.path}.bgi").exists():
                self.variants = list(self.bgen.fetch(contig, lo, hi))
            else:
                chroms = np.asarray(self.bgen.chroms())
                pos = np.asarray(self.bgen.positions())
                rows = np.flatnonzero((chroms == contig) & (pos >= lo) & (pos <= hi))
                self.variants = [self.bgen[int(i)] for i in rows]
        except (OSError, ValueError, RuntimeError, IndexError) as exc:
            raise InputError(f"{self.path}: cannot read {region} ({exc})") from None
        # raw diploid blocks give neither haploid calls nor, unphased, half calls: the passes
        # that look for them are turned on by the first block that may hold them
        self.region = RegionVariants(
            contig,
            np.array([v.pos for v in self.variants], dtype=np.int64),
            [tuple(v.alleles) for v in self.variants],
            np.arange(len(self.variants)),
            len(self.header.samples),
            haploid=False,
            half_calls=False,
        )
        return self.region

    def _probabilities(self, k: int) -> np.ndarray:
        var = self.variants[k]
        try:
            return np.asarray(var.probabilities, dtype=np.float64)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InputError(f"{self.path}: variant {var.chrom}:{var.pos} ({exc})") from None

    def read_calls(self, numbers: np.ndarray) -> np.ndarray:
        """Hard calls of variants `numbers`, all samples, in cyvcf2's layout."""
        n = len(self.header.samples)
        out = np.empty((len(numbers), n, 3), dtype=np.int16)
        for row, k in enumerate(numbers.tolist()):
            out[row] = self._calls(self.variants[k], self._probabilities(k))
        return out

    def _calls(self, var, p: np.ndarray) -> np.ndarray:
        """One variant's hard calls from its probabilities."""
        n_alleles = len(var.alleles)
        out = np.full((len(p), 3), -1, dtype=np.int16)
        ploidy = np.asarray(var.ploidy)
        if var.is_phased:
            for h in range(2):
                hap = p[:, h * n_alleles : (h + 1) * n_alleles]
                best = np.nan_to_num(hap, nan=-1).argmax(axis=1)
                sure = np.nan_to_num(hap.max(axis=1), nan=0) >= HARD_CALL_MIN
                out[:, h] = np.where(sure, best, -1)
            out[ploidy == 1, 1] = -2
            out[:, 2] = 1
            return out
        pairs = _diploid_pairs(n_alleles)
        diploid = ploidy == 2
        g = p[:, : len(pairs)]
        best = np.nan_to_num(g, nan=-1).argmax(axis=1)
        sure = (np.nan_to_num(g.max(axis=1), nan=0) >= HARD_CALL_MIN) & diploid
        out[sure, :2] = pairs[best[sure]]
        haploid = ploidy == 1
        if haploid.any():
            h = p[haploid, :n_alleles]
            called = np.nan_to_num(h.max(axis=1), nan=0) >= HARD_CALL_MIN
            out[haploid, 0] = np.where(called, np.nan_to_num(h, nan=-1).argmax(axis=1), -1)
            out[haploid, 1] = -2
        out[:, 2] = 0
        return out

    def read_pairs(
        self, numbers: np.ndarray, into: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hard calls (int8 allele indices, -1 missing, -2 absent) and phased flags of biallelic
        variants `numbers`: from the raw genotype block where `bgen_layout2` takes it."""
        k, n = len(numbers), len(self.header.samples)
        pairs, phased = into or (np.empty((k, n, 2), np.int8), np.empty((k, n), dtype=bool))
        work = np.empty(2 * n, dtype=np.int8)
        for row, number in enumerate(numbers.tolist()):
            block = self._raw_block(number)
            if block is not None and hard_calls(
                block, n, HARD_CALL_MIN, pairs[row], phased[row], work
            ):
                if block[8 + n]:  # phased: one haplotype's allele may be called alone
                    self.region.half_calls = True
                continue
            calls = self._calls(self.variants[number], self._probabilities(number))
            pairs[row], phased[row] = calls[:, :2], calls[:, 2]
            self.region.haploid = self.region.half_calls = True
        return pairs, phased

    def _raw_block(self, number: int) -> bytes | None:
        """The uncompressed layout-2 genotype block of variant `number`, or None (another
        layout or compression: the package decodes it)."""
        var = self.variants[number]
        if var.layout != 2:
            return None
        if self._file is None:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by read_region
        self._file.seek(var.fileoffset)
        record = self._file.read(var.next_variant_offset - var.fileoffset)
        try:
            return genotype_block(record, var.compression)
        except (struct.error, deflate.DeflateError, ValueError) as exc:
            raise InputError(
                f"{self.path}: variant {var.chrom}:{var.pos} cannot be decoded ({exc}); the file "
                "may be truncated or damaged"
            ) from None

    def read_values(self, numbers: np.ndarray, field: str) -> np.ndarray | None:
        """DS (expected count of the second allele) or GP of biallelic diploid variants."""
        rows = []
        for k in numbers.tolist():
            p, var = self._probabilities(k), self.variants[k]
            if len(var.alleles) != 2:
                rows.append(np.full((len(p), 3 if field == "GP" else 1), np.nan))
                continue
            gp = _genotype_probabilities(p) if var.is_phased else p[:, :3]
            rows.append(gp if field == "GP" else (gp[:, 1] + 2 * gp[:, 2])[:, None])
        return np.stack(rows).astype(np.float32)

    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Align every record of `region` (the file handle for raw blocks closed after)."""
        try:
            put_region(
                self.region_variants(region),
                sink,
                self.read_calls,
                self.read_values,
                self.read_pairs,
            )
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None


def _genotype_probabilities(hap: np.ndarray) -> np.ndarray:
    """P(0/0), P(0/1), P(1/1) from two haplotypes' allele probabilities (biallelic)."""
    a0, a1, b0, b1 = hap[:, 0], hap[:, 1], hap[:, 2], hap[:, 3]
    return np.stack([a0 * b0, a0 * b1 + a1 * b0, a1 * b1], axis=1)
