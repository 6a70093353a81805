"""A model's variant list: the order of its input features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError


def normalize_chrom(chrom: str) -> str:
    """Return a contig name without a `chr` prefix, for comparisons."""
    return chrom[3:] if chrom.lower().startswith("chr") else chrom


def chrom_forms(chrom: str) -> list[str]:
    """The names a file may give chromosome `chrom`, as given first: without and with a `chr`
    prefix and, for a number, without and with a leading zero (UK Biobank's BGEN and `.bgi`
    files name chromosome 1 `01`)."""
    bare = normalize_chrom(chrom)
    forms = [chrom, bare, "chr" + bare]
    if bare.isdigit():
        number = bare.lstrip("0") or "0"
        forms += [number, "chr" + number, number.zfill(2)]
    return list(dict.fromkeys(forms))


@dataclass(frozen=True)
class VariantList:
    """Variants in model input order; `ref`/`alt` are None for positions-only lists."""

    chrom: tuple[str, ...]
    pos: np.ndarray
    ref: tuple[str, ...] | None
    alt: tuple[str, ...] | None
    source: str

    def __len__(self) -> int:
        return len(self.pos)

    @property
    def positions_only(self) -> bool:
        """True when alleles are unknown and matching falls back to position."""
        return self.ref is None

    def label(self, i: int) -> str:
        """Return `chrom:pos:ref:alt` (or `chrom:pos`) for variant `i`."""
        if self.ref is None or self.alt is None:
            return f"{self.chrom[i]}:{self.pos[i]}"
        return f"{self.chrom[i]}:{self.pos[i]}:{self.ref[i]}:{self.alt[i]}"

    def to_tsv(self) -> str:
        """Render as the native bundle's `variants.tsv`."""
        lines = ["chrom\tpos\tref\talt"]
        for i in range(len(self)):
            ref = self.ref[i] if self.ref else "."
            alt = self.alt[i] if self.alt else "."
            lines.append(f"{self.chrom[i]}\t{self.pos[i]}\t{ref}\t{alt}")
        return "\n".join(lines) + "\n"


def _finish(
    path: Path, chrom: list[str], pos: list[int], ref: list[str] | None, alt: list[str] | None
) -> VariantList:
    if not pos:
        raise ModelError(f"{path}: the variant list is empty; a model needs at least one variant")
    if len({normalize_chrom(c) for c in chrom}) > 1:
        raise ModelError(
            f"{path}: variants lie on several contigs ({', '.join(sorted(set(chrom)))}); "
            "a tile model must cover one contig"
        )
    return VariantList(
        chrom=tuple(chrom),
        pos=np.asarray(pos, dtype=np.int64),
        ref=tuple(ref) if ref is not None else None,
        alt=tuple(alt) if alt is not None else None,
        source=str(path),
    )


def _int(path: Path, lineno: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ModelError(f"{path}, line {lineno}: position {text!r} is not an integer") from None
    if value < 1:
        raise ModelError(f"{path}, line {lineno}: position {value} must be 1 or more")
    return value


def read_variants_tsv(path: Path) -> VariantList:
    """Read a native bundle's `variants.tsv` (header `chrom pos ref alt`)."""
    chrom: list[str] = []
    pos: list[int] = []
    ref: list[str] = []
    alt: list[str] = []
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if header[:4] != ["chrom", "pos", "ref", "alt"]:
            raise ModelError(
                f"{path}: header must be 'chrom<TAB>pos<TAB>ref<TAB>alt', got {header}"
            )
        for lineno, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4:
                raise ModelError(f"{path}, line {lineno}: expected 4 tab-separated columns")
            chrom.append(fields[0])
            pos.append(_int(path, lineno, fields[1]))
            ref.append(fields[2].upper())
            alt.append(fields[3].upper())
    return _finish(path, chrom, pos, ref, alt)


def read_pos_file(path: Path) -> VariantList:
    """Read the lab's `NAME.pos`: `CHROM POS ID REF ALT`, `#` lines are header."""
    chrom: list[str] = []
    pos: list[int] = []
    ref: list[str] = []
    alt: list[str] = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            if len(fields) < 5:
                raise ModelError(
                    f"{path}, line {lineno}: expected 'CHROM POS ID REF ALT', got {len(fields)} fields"
                )
            chrom.append(fields[0])
            pos.append(_int(path, lineno, fields[1]))
            ref.append(fields[3].upper())
            alt.append(fields[4].upper())
    return _finish(path, chrom, pos, ref, alt)


def read_pos_txt(path: Path, chrom: str) -> VariantList:
    """Read the lab's `NAME_pos.txt`: one position per line, alleles unknown."""
    pos: list[int] = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            pos.append(_int(path, lineno, fields[-1]))
            if len(fields) > 1:
                chrom = fields[0]
    return _finish(path, [chrom] * len(pos), pos, None, None)


def detect_format(path: Path) -> str:
    """Return `bundle` or `lab` for a model path, or raise with what was expected."""
    if path.is_dir():
        if (path / "model.json").is_file():
            return "bundle"
        raise ModelError(
            f"{path}: a native bundle folder needs model.json, model.safetensors and variants.tsv"
        )
    if path.suffix == ".pth":
        return "lab"
    if path.name == "model.json":
        return "bundle"
    raise ModelError(
        f"{path}: not a model; give a native bundle folder (model.json) or the lab's NAME.pth "
        "with NAME_param.py and NAME.pos beside it"
    )


def load_variants(path: str | Path, chrom: str | None = None) -> VariantList:
    """Load only a model's variant list (no weights)."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model {path} does not exist")
    if detect_format(path) == "lab":
        return lab_variants(path, chrom)
    folder = path.parent if path.name == "model.json" else path
    return read_variants_tsv(require_file(folder / "variants.tsv"))


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise ModelError(f"{path} is missing")
    return path


BUNDLE_FILES = ("model.json", "model.safetensors", "variants.tsv")


def lab_companions(pth: Path) -> tuple[Path, Path, Path]:
    """`NAME_param.py`, `NAME.pos` and `NAME_pos.txt` beside the lab's `NAME.pth`."""
    stem = pth.with_suffix("")
    return (
        stem.with_name(f"{stem.name}_param.py"),
        stem.with_name(f"{stem.name}.pos"),
        stem.with_name(f"{stem.name}_pos.txt"),
    )


def model_files(path: Path) -> list[Path]:
    """The files a model consists of: a bundle folder's three (existing or to be made), or the
    lab's `.pth`, `_param.py` and variant list."""
    if path.suffix != ".pth":
        folder = path.parent if path.name == "model.json" else path
        return [folder / name for name in BUNDLE_FILES]
    param, pos, pos_txt = lab_companions(path)
    return [path, param, pos if pos.exists() or not pos_txt.exists() else pos_txt]


def lab_variants(pth: Path, chrom: str | None) -> VariantList:
    _, pos, pos_txt = lab_companions(pth)
    if pos.is_file():
        return read_pos_file(pos)
    if pos_txt.is_file():
        if chrom is None:
            raise ModelError(f"{pos_txt}: a positions-only list needs the tile's chromosome")
        return read_pos_txt(pos_txt, chrom)
    raise ModelError(f"{pth}: neither {pos.name} nor {pos_txt.name} lies beside it")
