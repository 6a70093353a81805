"""Reading a tile's genotypes from an indexed VCF/BCF and aligning them to a model's variants.

Aligned genotypes are stored as allele codes relative to the *model's* alleles:
0 = model REF, 1 = model ALT, -1 = missing (for both haplotypes of a call). Rules:

* exact (chrom, pos, ref, alt) matches are preferred over REF/ALT swaps, which are preferred
  over finding the model's alleles inside a multi-allelic record; two records of equal rank for
  one model variant are an error that names both;
* a call carrying an allele other than the model's REF or ALT is missing for that variant;
* half-missing calls (`./1`, `0|.`) are missing;
* haploid calls (e.g. chrX in males) count as homozygous for their allele;
* positions-only variant lists match the record at that position, taking its REF as the model's
  REF and its first ALT as the model's ALT.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

from .errors import AlignmentError, InputError
from .files import write_npz
from .progress import track
from .tiles import Tile
from .variants import VariantList, normalize_chrom

log = logging.getLogger(__name__)

GENOTYPE_FIELDS = ("GT", "DS", "GP")
_COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}
_RANK = {"exact": 0, "swapped": 1, "multiallelic": 2, "position": 3}


@dataclass
class AlignmentQC:
    """What happened to each model variant and each call of a tile."""

    n_model_variants: int = 0
    n_samples: int = 0
    records_read: int = 0
    records_not_in_model: int = 0
    matched_exact: int = 0
    matched_swapped: int = 0
    matched_multiallelic: int = 0
    matched_by_position: int = 0
    missing_variants: int = 0
    strand_ambiguous: int = 0
    records_without_field: int = 0
    calls_missing: int = 0
    calls_half_missing: int = 0
    calls_other_allele: int = 0
    calls_haploid: int = 0
    missing_examples: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        """Model variants found in the VCF by any rule."""
        return (
            self.matched_exact
            + self.matched_swapped
            + self.matched_multiallelic
            + self.matched_by_position
        )

    @property
    def match_rate(self) -> float:
        """Fraction of model variants found in the VCF."""
        return self.matched / self.n_model_variants if self.n_model_variants else 0.0

    def to_dict(self) -> dict:
        """Return the counts with the derived figures."""
        return {**asdict(self), "matched": self.matched, "match_rate": self.match_rate}


class TileGenotypes:
    """A tile's genotypes aligned to its model's variant list.

    Calls are allele codes relative to the model's alleles: 0 REF, 1 ALT, -1 missing. They are
    kept variant-major (`alleles_vm`, (variants, samples, 2) int8; `phased_vm`, (variants,
    samples) bool), the order they are read in; `alleles` and `phased` give the sample-major
    views ((samples, variants, 2) and (samples, variants)) the encoders use, made on first use.
    `dosage` is (samples, variants) float32 from DS or GP, NaN where missing, or None.
    """

    def __init__(
        self,
        tile_id: str,
        samples: list[str],
        alleles: np.ndarray | None = None,
        phased: np.ndarray | None = None,
        dosage: np.ndarray | None = None,
        qc: AlignmentQC | None = None,
        source: dict | None = None,
        alleles_vm: np.ndarray | None = None,
        phased_vm: np.ndarray | None = None,
        phased_packed: np.ndarray | None = None,
    ) -> None:
        self.tile_id = tile_id
        self.samples = samples
        self._alleles, self._phased = alleles, phased
        self.alleles_vm, self._phased_vm = alleles_vm, phased_vm
        self._phased_packed = phased_packed  # bits of phased_vm, unpacked on first use
        self.dosage = dosage
        self.qc = qc or AlignmentQC()
        self.source = source or {}

    @property
    def alleles(self) -> np.ndarray:
        """(samples, variants, 2) int8 allele codes."""
        if self._alleles is None:
            pairs = self.alleles_vm.view(np.int16)[..., 0]  # both alleles of a call as one int16
            n_var, n_samples = pairs.shape
            self._alleles = blocked_transpose(pairs).view(np.int8).reshape(n_samples, n_var, 2)
        return self._alleles

    @property
    def phased(self) -> np.ndarray:
        """(samples, variants) bool: the call is phased."""
        if self._phased is None:
            self._phased = blocked_transpose(self.phased_vm)
        return self._phased

    @property
    def phased_vm(self) -> np.ndarray | None:
        """(variants, samples) bool: the call is phased."""
        if self._phased_vm is None and self._phased_packed is not None:
            bits = np.unpackbits(self._phased_packed, axis=1, count=len(self.samples))
            self._phased_vm, self._phased_packed = bits.view(bool), None
        return self._phased_vm

    @property
    def n_variants(self) -> int:
        """Variants (model order) the calls cover."""
        return len(self.alleles_vm) if self.alleles_vm is not None else self._alleles.shape[1]

    def sample_rows(
        self, index: slice | np.ndarray, phased: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(alleles, phased or None) of some samples, sample-major, without the whole transpose."""
        if self._alleles is not None or self.alleles_vm is None:
            return self.alleles[index], self.phased[index] if phased else None
        pairs = self.alleles_vm.view(np.int16)[:, index, 0]  # (variants, rows) int16 pairs
        alleles = blocked_transpose(pairs).view(np.int8).reshape(pairs.shape[1], -1, 2)
        return alleles, blocked_transpose(self.phased_vm[:, index]) if phased else None

    def variant_major(self) -> tuple[np.ndarray, np.ndarray]:
        """(alleles, phased) variant-major: (variants, samples, 2) and (variants, samples)."""
        if self.alleles_vm is not None:
            return self.alleles_vm, self.phased_vm
        pairs = self._alleles.view(np.int16)[..., 0]
        n_samples, n_var = pairs.shape
        return blocked_transpose(pairs).view(np.int8).reshape(
            n_var, n_samples, 2
        ), blocked_transpose(self._phased)

    def save(self, path: str | Path) -> None:
        """Write as an uncompressed `.npz` (no pickled objects), atomically."""
        alleles_vm, phased_vm = self.variant_major()
        arrays = {
            "alleles_vm": alleles_vm,
            "phased_vm": np.packbits(phased_vm, axis=1),
            "samples": np.asarray(self.samples, dtype=np.str_),
            "meta": np.asarray(
                json.dumps({"tile_id": self.tile_id, "qc": asdict(self.qc), "source": self.source})
            ),
        }
        if self.dosage is not None:
            arrays["dosage"] = self.dosage
        write_npz(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> TileGenotypes:
        """Read a file written by `save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                samples = [str(s) for s in data["samples"]]
                return cls(
                    tile_id=meta["tile_id"],
                    samples=samples,
                    alleles_vm=data["alleles_vm"],
                    phased_packed=data["phased_vm"],
                    dosage=data["dosage"] if "dosage" in data else None,
                    qc=AlignmentQC(**meta["qc"]),
                    source=meta.get("source", {}),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path}: not a genotypes file written by vcf2embed ({exc})") from None


def resolve_vcf_path(pattern: str, tile: Tile) -> Path:
    """Fill `{chrom}` or `{tile}` in a VCF path pattern for `tile`."""
    chrom_forms = [tile.chrom, normalize_chrom(tile.chrom), "chr" + normalize_chrom(tile.chrom)]
    if "{chrom}" in pattern:
        candidates = [pattern.replace("{chrom}", c) for c in dict.fromkeys(chrom_forms)]
        for cand in candidates:
            if Path(cand).exists():
                return Path(cand.replace("{tile}", tile.tile_id))
        raise InputError(f"no VCF for chromosome {tile.chrom}: tried {', '.join(candidates)}")
    path = Path(pattern.replace("{tile}", tile.tile_id))
    if not path.exists():
        raise InputError(
            f"VCF {path} (tile {tile.tile_id}) does not exist; check `vcf:` in the config"
        )
    return path


def find_index(path: Path) -> Path | None:
    """Return the `.tbi` or `.csi` index of `path`, if any."""
    for suffix in (".tbi", ".csi"):
        idx = path.with_name(path.name + suffix)
        if idx.exists():
            return idx
    return None


@contextlib.contextmanager
def htslib_messages(path: Path) -> Iterator[list[str]]:
    """Catch what htslib (inside cyvcf2) prints on stderr; errors get its first message line.

    htslib writes straight to file descriptor 2; the lines are collected, warnings are logged,
    and an exception raised inside the block names the file and htslib's own first error.
    """
    import tempfile

    collected: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield collected
        except InputError:
            raise
        except Exception as exc:
            os.dup2(saved, 2)
            sink.seek(0)
            lines = sink.read().decode(errors="replace").splitlines()
            errors = [line for line in lines if line.startswith("[E::")] or lines
            detail = errors[0] if errors else str(exc)
            raise InputError(f"{path}: cannot be read as VCF/BCF (htslib: {detail})") from None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            collected.extend(sink.read().decode(errors="replace").splitlines())
    for line in collected:
        log.warning("%s: htslib: %s", path, line)


def check_indexed(path: Path) -> None:
    """Raise unless `path` exists and has a .tbi or .csi index."""
    if not path.exists():
        raise InputError(f"VCF {path} does not exist")
    index = find_index(path)
    kind = "-c" if path.suffix == ".bcf" else "-t"
    if index is None:
        raise InputError(
            f"{path} has no index (.tbi or .csi); make one with `bcftools index {kind} {path}`"
        )
    if index.stat().st_mtime < path.stat().st_mtime - 1:
        raise InputError(
            f"{index} is older than {path}: the file changed after it was indexed; re-index with "
            f"`bcftools index -f {kind} {path}`"
        )


def check_unique_samples(path: Path, samples: list[str]) -> None:
    """Raise on the first sample ID that the header lists twice."""
    seen: set[str] = set()
    for s in samples:
        if s in seen:
            raise InputError(f"{path}: sample ID {s!r} appears more than once in the header")
        seen.add(s)


def open_vcf(path: Path, samples: list[str] | None = None):
    """Open an indexed VCF/BCF with cyvcf2 and check its samples and index."""
    from cyvcf2 import VCF

    check_indexed(path)
    try:
        with htslib_messages(path):
            vcf = VCF(str(path), strict_gt=True, lazy=True)
    except Exception as exc:  # cyvcf2 raises plain Exception on bad headers
        duplicate = _duplicate_sample_in_text_header(path)
        if duplicate:
            raise InputError(
                f"{path}: sample ID {duplicate!r} appears more than once in the header"
            ) from None
        raise InputError(f"{path}: cannot be read as VCF/BCF ({exc})") from None
    check_unique_samples(path, list(vcf.samples))
    return vcf


def _duplicate_sample_in_text_header(path: Path) -> str | None:
    """Return a duplicated sample ID of a text VCF's #CHROM line (htslib refuses such headers)."""
    import gzip

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


def read_samples_file(path: str | Path) -> list[str]:
    """Read a samples file: one ID per line (first column); duplicates are an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"samples file {path} does not exist")
    ids: list[str] = []
    seen: dict[str, int] = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            sid = line.split()[0]
            if sid in seen:
                raise InputError(
                    f"{path}, line {lineno}: sample {sid!r} is listed twice (first on line {seen[sid]})"
                )
            seen[sid] = lineno
            ids.append(sid)
    if not ids:
        raise InputError(f"samples file {path} lists no samples")
    return ids


def sample_order(vcf_samples: list[str], wanted: list[str] | None, where: Path) -> np.ndarray:
    """Return VCF column indices giving the rows in `wanted` order (all samples if None)."""
    if wanted is None:
        return np.arange(len(vcf_samples))
    position = {s: i for i, s in enumerate(vcf_samples)}
    unknown = [s for s in wanted if s not in position]
    if unknown:
        raise InputError(
            f"{len(unknown)} sample(s) of the samples file are not in {where}: "
            f"{', '.join(unknown[:5])}"
        )
    return np.asarray([position[s] for s in wanted], dtype=np.int64)


def pick_contig(names: list[str], path: Path, chrom: str) -> str:
    """Return the VCF's name for `chrom`, with or without a `chr` prefix."""
    for cand in (chrom, normalize_chrom(chrom), "chr" + normalize_chrom(chrom)):
        if cand in names:
            return cand
    raise InputError(
        f"{path}: contig {chrom} (with or without 'chr') is not in the VCF; it has "
        f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
    )


def classify(alleles: list[str], ref: str, alt: str) -> str | None:
    """Return how a record's alleles hold the model's (ref, alt), or None if they do not."""
    if len(alleles) == 2:
        if alleles[0] == ref and alleles[1] == alt:
            return "exact"
        if alleles[0] == alt and alleles[1] == ref:
            return "swapped"
        return None
    if ref in alleles and alt in alleles:
        return "multiallelic"
    return None


def _encoded(texts) -> list[bytes]:
    """UTF-8 bytes of many strings (one encode call for all)."""
    texts = list(texts)
    return "\n".join(texts).encode().split(b"\n") if texts else []


def is_strand_ambiguous(ref: str, alt: str) -> bool:
    """True for A/T and C/G pairs, whose strand cannot be told from the alleles."""
    return len(ref) == 1 and _COMPLEMENT.get(ref) == alt


def _record_label(rec) -> tuple:
    return (rec.CHROM, rec.POS, rec.REF, ",".join(rec.ALT) or ".")


def format_label(label: tuple) -> str:
    """`chrom:pos ref>alt` of a record label tuple (text or the record's bytes)."""
    chrom, pos, ref, alt = (
        part.decode(errors="replace") if isinstance(part, bytes) else part for part in label
    )
    return f"{chrom}:{pos} {ref}>{alt}"


EXACT_LUT = np.array([0, 1], dtype=np.int8)  # a record whose REF and ALT are the model's


def batch_array_codes(
    g: np.ndarray, luts: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`array_codes` for (records, samples, 3) diploid-layout calls at once."""
    a = g[..., :2].astype(np.int16)
    phased = g[..., -1].astype(bool)
    haploid = (a[..., 1] == -2) & (a[..., 0] >= 0)
    n_haploid = np.count_nonzero(haploid, axis=1)
    if n_haploid.any():
        a[..., 1] = np.where(haploid, a[..., 0], a[..., 1])
        phased |= haploid  # a haploid call has one order only
    width = max(len(lut) for lut in luts)
    tables = np.full((len(luts), width), -2, dtype=np.int8)
    for row, lut in enumerate(luts):
        tables[row, : len(lut)] = np.where(lut < 0, -2, lut)
    index = np.clip(a, 0, width - 1).astype(np.intp)
    index += (np.arange(len(luts), dtype=np.intp) * width)[:, None, None]
    codes = tables.ravel()[index]
    codes[a < 0] = -1
    return codes, phased, n_haploid


def array_codes(g: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Model allele codes of cyvcf2-layout calls: 0/1, -1 missing, -2 another allele; and phased."""
    ploidy = g.shape[1] - 1
    phased = g[:, -1].astype(bool)
    n_haploid = 0
    if ploidy == 1:
        a = np.repeat(g[:, :1], 2, axis=1)
        n_haploid = int(np.count_nonzero(a[:, 0] >= 0))
        phased[:] = True  # a haploid call has one order only (cyvcf2 flags it either way)
    elif ploidy == 2:
        a = g[:, :2].copy()
        haploid = (a[:, 1] == -2) & (a[:, 0] >= 0)
        if haploid.any():
            n_haploid = int(np.count_nonzero(haploid))
            a[haploid, 1] = a[haploid, 0]
            phased[haploid] = True
    else:
        raise InputError(f"ploidy {ploidy} is not supported; only haploid and diploid calls are")
    table = np.where(lut < 0, -2, lut).astype(np.int8)
    codes = np.where(a < 0, -1, table[np.clip(a, 0, len(table) - 1)]).astype(np.int8)
    return codes, phased, n_haploid


def _dosage(
    rec, field: str, kind: str, alleles: list[str], ref: str, alt: str
) -> np.ndarray | None:
    """Return the model-ALT dosage of a record from DS or GP, or None if unusable."""
    values = rec.format(field)
    if values is None:
        return None
    values = values.astype(np.float32)
    if field == "DS":
        if kind == "exact" or kind == "position":
            return values[:, 0]
        if kind == "swapped":
            return 2.0 - values[:, 0]
        col = alleles.index(alt) - 1
        if alleles[0] == ref and col < values.shape[1]:
            return values[:, col]
        return None
    if kind in ("exact", "position") and values.shape[1] >= 3:
        return values[:, 1] + 2.0 * values[:, 2]
    if kind == "swapped" and values.shape[1] >= 3:
        return values[:, 1] + 2.0 * values[:, 0]
    return None


def blocked_transpose(a: np.ndarray, block: int = 256) -> np.ndarray:
    """A contiguous transpose of a 2-D array, copied in row blocks (much faster than at once)."""
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for start in range(0, a.shape[0], block):
        out[:, start : start + block] = a[start : start + block].T
    return out


class _Aligner:
    """Chooses, for every model variant, the best-matching record and stores its calls."""

    def __init__(
        self,
        variants: VariantList,
        order: np.ndarray,
        qc: AlignmentQC,
        path: Path,
        genotype_field: str,
    ) -> None:
        n_samples, n_var = len(order), len(variants)
        self.variants, self.order, self.qc, self.path = variants, order, qc, path
        self.genotype_field = genotype_field
        # variant-major while reading (each record fills a contiguous row); see sample_major()
        # rows are written whole by fill_codes; `finish` sets the rows no record supplied
        self.alleles_vm = np.empty((n_var, n_samples, 2), dtype=np.int8)
        self.phased_vm = np.empty((n_var, n_samples), dtype=bool)
        self.filled = np.zeros(n_var, dtype=bool)
        self.dosage = (
            np.full((n_samples, n_var), np.nan, dtype=np.float32)
            if genotype_field != "GT"
            else None
        )
        self.by_pos: dict[int, list[int]] = {}
        for j, p in enumerate(variants.pos.tolist()):
            self.by_pos.setdefault(p, []).append(j)
        self.call_counts = np.zeros((n_var, 4), dtype=np.int64)  # missing, half, other, haploid
        self.chosen: dict[int, tuple[int, tuple]] = {}
        self.kinds: dict[int, str] = {}
        self._position_texts: set[bytes] | None = None

    def exact_keys(self, contig: str) -> dict[tuple[bytes, bytes, bytes, bytes], int]:
        """`(CHROM, POS, REF, ALT)` text of a biallelic record that matches a variant exactly ->
        the variant's index. Only variants alone at their position are listed."""
        if self.variants.positions_only:
            return {}
        single = [js[0] for js in self.by_pos.values() if len(js) == 1]
        ref, alt = self.variants.ref, self.variants.alt
        keys = zip(
            repeat(contig.encode()),
            _encoded(str(p) for p in self.variants.pos[single].tolist()),
            _encoded(ref[j] for j in single),
            _encoded(alt[j] for j in single),
        )
        return dict(zip(keys, single))

    def position_texts(self) -> set[bytes]:
        """The model's positions as VCF text."""
        if self._position_texts is None:
            self._position_texts = set(_encoded(str(p) for p in self.by_pos))
        return self._position_texts

    def skip(self) -> None:
        """Count a record that no model variant is at."""
        self.qc.records_read += 1
        self.qc.records_not_in_model += 1

    def claim_exact(self, js: list[int], labels: list[tuple]) -> list[bool]:
        """Take records as the exact matches of variants `js`; False where a variant already
        has a record (also from earlier in `js`), which `candidates` must then weigh."""
        chosen = self.chosen
        if len(set(js)) == len(js) and chosen.keys().isdisjoint(js):
            chosen.update(zip(js, zip(repeat(_RANK["exact"]), labels)))
            self.kinds.update(dict.fromkeys(js, "exact"))
            self.qc.records_read += len(js)
            return [True] * len(js)
        return [self.claim_one(j, label) for j, label in zip(js, labels)]

    def claim_one(self, j: int, label: tuple) -> bool:
        """`claim_exact` for one record."""
        if j in self.chosen:
            return False
        self.chosen[j] = (_RANK["exact"], label)
        self.kinds[j] = "exact"
        self.qc.records_read += 1
        return True

    def candidates(
        self, pos: int, rec_alleles: list[str], label: tuple
    ) -> list[tuple[int, str, np.ndarray]]:
        """Model variants this record now supplies, as (index, kind, allele lookup table)."""
        self.qc.records_read += 1
        hits = self.by_pos.get(pos)
        if not hits:
            self.qc.records_not_in_model += 1
            return []
        out = []
        used = False
        for j in hits:
            if self.variants.positions_only:
                kind = "position"
                mref, malt = rec_alleles[0], rec_alleles[1] if len(rec_alleles) > 1 else "."
            else:
                mref, malt = self.variants.ref[j], self.variants.alt[j]
                kind = classify(rec_alleles, mref, malt)
            if kind is None:
                continue
            used = True
            if j in self.chosen:
                old_rank, old_label = self.chosen[j]
                if old_rank < _RANK[kind]:
                    continue
                if old_rank == _RANK[kind]:
                    raise InputError(
                        f"{self.path}: records {format_label(old_label)} and {format_label(label)} "
                        f"both match model variant "
                        f"{self.variants.label(j)}; remove the duplicate (e.g. `bcftools norm -d exact`)"
                    )
            self.chosen[j] = (_RANK[kind], label)
            self.kinds[j] = kind
            lut = np.array(
                [0 if a == mref else 1 if a == malt else -1 for a in rec_alleles], dtype=np.int8
            )
            out.append((j, kind, lut))
        if not used:
            self.qc.records_not_in_model += 1
        return out

    def fill_codes(
        self,
        js: list[int],
        codes: np.ndarray,
        phased: np.ndarray,
        may_have_other: bool = True,
        haploid: np.ndarray | None = None,
    ) -> None:
        """Store (records, samples, 2) codes (-1 missing, -2 another allele; samples in output order).

        Call counts are kept per model variant, so a record that a better one replaces later
        leaves no trace in the QC.
        """
        if haploid is None:
            haploid = np.zeros(len(js), dtype=np.int64)
        if len(set(js)) != len(js):  # a later, better record replaces an earlier one
            last = {j: k for k, j in enumerate(js)}
            keep = sorted(last.values())
            js, codes, phased, haploid = (
                [js[k] for k in keep],
                codes[keep],
                phased[keep],
                haploid[keep],
            )
        codes = np.ascontiguousarray(codes)
        pair = codes.view(np.int16)[..., 0]  # both alleles of a call as one int16
        both = (pair == -1).sum(axis=1, dtype=np.int64)
        negative_calls = (pair & np.int16(-32640)) != 0  # 0x8080: either allele code is negative
        negative = negative_calls.sum(axis=1, dtype=np.int64)
        other = np.zeros_like(both)
        if may_have_other:
            # per call (two bytes viewed as one uint16): any allele -2 and none -1
            other_calls = ((codes == -2).view(np.uint16) != 0) & (
                (codes == -1).view(np.uint16) == 0
            )
            other = other_calls.reshape(len(js), -1).sum(axis=1, dtype=np.int64)
        self.call_counts[js] = np.stack([both, negative - both - other, other, haploid], axis=1)
        self.filled[js] = True
        pair[negative_calls] = -1
        if js == list(range(js[0], js[0] + len(js))):
            self.alleles_vm[js[0] : js[0] + len(js)] = codes
            self.phased_vm[js[0] : js[0] + len(js)] = phased
        else:
            self.alleles_vm[js] = codes
            self.phased_vm[js] = phased

    def fill_valid(
        self, js: list[int], codes: np.ndarray, phased: np.ndarray, valid: np.ndarray
    ) -> np.ndarray:
        """Store the rows `valid` marks (exact matches, so no other allele); return the rest."""
        if valid.all():
            self.fill_codes(js, codes, phased, may_have_other=False)
            return np.empty(0, dtype=np.intp)
        good = np.flatnonzero(valid)
        if len(good):
            self.fill_codes([js[i] for i in good], codes[good], phased[good], may_have_other=False)
        return np.flatnonzero(~valid)

    def finish(self) -> None:
        """Mark the calls of variants no record supplied as missing."""
        empty = ~self.filled
        self.alleles_vm[empty] = -1
        self.phased_vm[empty] = False

    def count_calls(self) -> None:
        """Add the per-variant call counts to the QC."""
        missing, half, other, haploid = (int(x) for x in self.call_counts.sum(axis=0))
        self.qc.calls_missing += missing
        self.qc.calls_half_missing += half
        self.qc.calls_other_allele += other
        self.qc.calls_haploid += haploid

    def missing_field(self) -> None:
        """Count a record that lacks GT."""
        if self.genotype_field == "GT":
            self.qc.records_without_field += 1

    def fill_dosage(self, j: int, ds: np.ndarray | None) -> None:
        """Store a record's ALT dosage (rows in output order), or count it as lacking the field."""
        if self.dosage is None:
            return
        if ds is None:
            self.qc.records_without_field += 1
            self.dosage[:, j] = np.nan
        else:
            self.dosage[:, j] = ds


def _read_cyvcf2(vcf, path: Path, region: str, aligner: _Aligner, desc: str) -> None:
    """Align every record of `region`, reading calls through cyvcf2."""
    try:
        records = vcf(region)
    except Exception as exc:  # cyvcf2 raises plain Exception on index problems
        raise InputError(f"{path}: cannot query {region} ({exc}); re-index the file") from None
    has_gt = "GT" in _format_ids(vcf)
    order = aligner.order
    group = max(1, min(256, (64 << 20) // max(1, 6 * len(order))))
    js: list[int] = []
    arrays: list[np.ndarray] = []
    luts: list[np.ndarray] = []

    def flush() -> None:
        if not js:
            return
        diploid = [k for k, g in enumerate(arrays) if g.shape[1] == 3]
        rows: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        if diploid:
            codes, phased, haploid = batch_array_codes(
                np.stack([arrays[k] for k in diploid]), [luts[k] for k in diploid]
            )
            for r, k in enumerate(diploid):
                rows[k] = (codes[r], phased[r], int(haploid[r]))
        for k in range(len(js)):
            if k not in rows:
                rows[k] = array_codes(arrays[k], luts[k])
        order_k = range(len(js))
        aligner.fill_codes(
            list(js),
            np.stack([rows[k][0] for k in order_k]),
            np.stack([rows[k][1] for k in order_k]),
            haploid=np.array([rows[k][2] for k in order_k], dtype=np.int64),
        )
        js.clear(), arrays.clear(), luts.clear()

    for rec in track(records, desc=desc, unit="records"):
        rec_alleles = [rec.REF.upper(), *(a.upper() for a in rec.ALT)]
        chosen = aligner.candidates(rec.POS, rec_alleles, _record_label(rec))
        if not chosen:
            continue
        gt = rec.genotype if has_gt else None
        g = gt.array()[order] if gt is not None else None
        for j, kind, lut in chosen:
            if g is None:
                aligner.missing_field()
            else:
                js.append(j), arrays.append(g), luts.append(lut)
            if aligner.dosage is not None:
                ref, alt = (
                    rec_alleles[int(np.argmax(lut == 0))],
                    rec_alleles[int(np.argmax(lut == 1))],
                )
                ds = _dosage(rec, aligner.genotype_field, kind, rec_alleles, ref, alt)
                aligner.fill_dosage(j, ds[order] if ds is not None else None)
        if len(js) >= group:
            flush()
    flush()


READERS = ("auto", "text", "bcf", "cyvcf2")
# the vectorised readers: the files each takes (with an index) and the htslib tool it streams from
_FAST_READERS = {"text": ((".vcf.gz", ".vcf.bgz"), "tabix"), "bcf": ((".bcf",), "bcftools")}


def _fast_reader_applies(name: str, path: Path, genotype_field: str) -> bool:
    """True when reader `name` can read GT from `path` here."""
    suffixes, tool = _FAST_READERS[name]
    return (
        genotype_field == "GT"
        and path.name.endswith(suffixes)
        and find_index(path) is not None
        and shutil.which(tool) is not None
    )


def choose_reader(path: Path, genotype_field: str, reader: str) -> str:
    """Return `text` (bgzipped VCF), `bcf` (BCF) or `cyvcf2` (any file) for this file and setting."""
    if reader not in READERS:
        raise InputError(f"reader {reader!r}: use one of {', '.join(READERS)}")
    usable = {name: _fast_reader_applies(name, path, genotype_field) for name in _FAST_READERS}
    usable["cyvcf2"] = True
    if reader == "auto":
        return next(name for name in ("text", "bcf", "cyvcf2") if usable[name])
    if not usable[reader]:
        needs = {
            "text": "a bgzipped, tabix-indexed VCF, GT genotypes and the `tabix` command",
            "bcf": "an indexed BCF file, GT genotypes and the `bcftools` command",
        }[reader]
        raise InputError(f"{path}: the {reader} reader needs {needs}; use reader: auto")
    return reader


def read_tile_genotypes(
    vcf_path: str | Path,
    tile: Tile,
    variants: VariantList,
    samples: list[str] | None = None,
    genotype_field: str = "GT",
    min_variant_match: float = 0.0,
    reader: str = "auto",
) -> TileGenotypes:
    """Read `tile`'s records and align them to `variants`; raise if too few match.

    `reader`: `text` parses the raw GT text of bgzipped VCFs and `bcf` the binary records of
    BCF files with numpy (fast), `cyvcf2` reads any VCF/BCF through cyvcf2; `auto` picks the
    first that applies. All give equal results.
    """
    if genotype_field not in GENOTYPE_FIELDS:
        raise InputError(
            f"genotype_field {genotype_field!r}: use one of {', '.join(GENOTYPE_FIELDS)}"
        )
    path = Path(vcf_path)
    check_indexed(path)
    used_reader = choose_reader(path, genotype_field, reader)
    if used_reader == "text":  # the header from htslib's tabix: cyvcf2 is not even imported
        from .gtext import read_text_header

        vcf = None
        vcf_samples, contigs, format_ids = read_text_header(path)
        check_unique_samples(path, vcf_samples)
        if reader == "auto" and format_ids - {"GT"}:
            # records with more FORMAT fields than GT (imputed DS/GP, AD, ...) would each need the
            # per-call parser: cyvcf2 reads those faster
            used_reader = "cyvcf2"
    if used_reader == "bcf":  # the header from bcftools: cyvcf2 is not imported either
        from .bcfbin import read_bcf_header

        vcf = None
        vcf_samples, contigs, format_ids = read_bcf_header(path)
        check_unique_samples(path, vcf_samples)
    if used_reader == "cyvcf2":
        vcf = open_vcf(path)
        vcf_samples = list(vcf.samples)  # cyvcf2 rebuilds the list on every access
        contigs, format_ids = list(vcf.seqnames), _format_ids(vcf)
    order = sample_order(vcf_samples, samples, path)
    sample_ids = [vcf_samples[i] for i in order]
    n_samples, n_var = len(order), len(variants)
    qc = AlignmentQC(n_model_variants=n_var, n_samples=n_samples)
    if genotype_field not in format_ids:
        raise InputError(
            f"{path}: the header declares no FORMAT/{genotype_field} field; a VCF with genotypes "
            f"needs it (or set genotype_field to one the VCF has: {', '.join(sorted(format_ids)) or 'none'})"
        )
    contig = pick_contig(contigs, path, tile.chrom)
    lo, hi = int(variants.pos.min()), int(variants.pos.max())
    region = f"{contig}:{lo}-{hi}"
    aligner = _Aligner(variants, order, qc, path, genotype_field)
    desc = f"tile {tile.tile_id}: reading {region}"
    try:
        if used_reader == "text":
            from .gtext import read_text_region

            read_text_region(path, region, len(vcf_samples), aligner, desc)
        elif used_reader == "bcf":
            from .bcfbin import read_bcf_region

            read_bcf_region(path, region, len(vcf_samples), aligner, desc)
        else:
            with htslib_messages(path):
                _read_cyvcf2(vcf, path, region, aligner, desc)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: failed while reading {region}: {exc}") from None

    aligner.finish()
    aligner.count_calls()
    for kind, count in Counter(aligner.kinds.values()).items():
        counter = "matched_by_position" if kind == "position" else f"matched_{kind}"
        setattr(qc, counter, getattr(qc, counter) + count)
    if not variants.positions_only:
        ref, alt = variants.ref, variants.alt
        qc.strand_ambiguous = sum(is_strand_ambiguous(ref[j], alt[j]) for j in aligner.kinds)
    absent = [j for j in range(n_var) if j not in aligner.kinds]
    qc.missing_variants = len(absent)
    qc.missing_examples = [variants.label(j) for j in absent[:5]]
    qc.calls_missing += len(absent) * n_samples
    if variants.positions_only:
        log.warning(
            "tile %s: the model's variant list (%s) has positions only; matched %d variants by "
            "position without checking alleles",
            tile.tile_id,
            variants.source,
            qc.matched_by_position,
        )
    if qc.match_rate < min_variant_match or qc.matched == 0:
        raise AlignmentError(_low_match_message(tile, path, variants, qc, min_variant_match))
    return TileGenotypes(
        tile_id=tile.tile_id,
        samples=sample_ids,
        alleles_vm=aligner.alleles_vm,
        phased_vm=aligner.phased_vm,
        dosage=aligner.dosage,
        qc=qc,
        source={
            "vcf": str(path),
            "region": region,
            "genotype_field": genotype_field,
            "reader": used_reader,
        },
    )


def _format_ids(vcf) -> set[str]:
    ids = set()
    for h in vcf.header_iter():
        if h.type == "FORMAT":
            ids.add(h.info().get("ID"))
    return ids


def _low_match_message(
    tile: Tile, path: Path, variants: VariantList, qc: AlignmentQC, threshold: float
) -> str:
    cause = "the VCF may not cover this region, or the model's variants were called differently"
    if qc.records_read == 0:
        cause = (
            "the VCF has no records in this region: check the genome build and the contig naming "
            "(chr prefix)"
        )
    elif qc.records_not_in_model > qc.matched:
        cause = (
            "most records at these positions do not match the model's variants: the VCF may use "
            "another genome build than the model"
        )
    below = f", below min_variant_match {threshold:.0%}" if qc.match_rate < threshold else ""
    return (
        f"tile {tile.tile_id}: only {qc.matched} of {qc.n_model_variants} model variants "
        f"({qc.match_rate:.1%}) were found in {path}{below}; "
        f"missing e.g. {', '.join(qc.missing_examples)}; likely cause: {cause}"
    )
