"""The tile table: which genomic region each model covers and where the model lives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

REQUIRED_COLUMNS = ("tile_id", "chrom", "start", "end", "model")
_TILE_ID = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Tile:
    """One tile: 1-based inclusive coordinates and the path of its model."""

    tile_id: str
    chrom: str
    start: int
    end: int
    model: Path | None  # None: no model yet (the workflow trains one)

    @property
    def region(self) -> str:
        """Return the region as `chrom:start-end`."""
        return f"{self.chrom}:{self.start}-{self.end}"


_LAB_REGION = re.compile(r"^(\S+):(\d+)-(\d+)\s+(\S+)\s*$")
LAB_METADATA = "metadata.tsv"


def read_tiles(path: str | Path, check_models: bool = True) -> list[Tile]:
    """Read and validate a tile table; model paths resolve against its folder.

    Two formats: the TSV with a header `tile_id chrom start end model`, or the lab's
    `regions_file.txt` (`22:17274081-17382360<TAB>SUFFIX` per line) with `metadata.tsv`
    (`SUFFIX<TAB>MODEL_DIR<TAB>MODEL_NAME`) in the same folder.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"tile table {path} does not exist; set `tiles:` to a TSV file")
    with open(path) as fh:
        lines = [line.rstrip("\n\r") for line in fh]
    if not lines:
        raise InputError(f"{path}: the tile table is empty; it needs a header line")
    first = next((line for line in lines if line.strip()), "")
    if _LAB_REGION.match(first):
        rows = _lab_rows(path, lines)
    else:
        rows = _table_rows(path, lines)
    return _validate(path, rows, check_models)


def _table_rows(path: Path, lines: list[str]) -> list[tuple]:
    header = lines[0].split("\t")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must hold "
            f"{', '.join(REQUIRED_COLUMNS)} separated by tabs (or give the lab's regions_file.txt)"
        )
    col = {name: header.index(name) for name in REQUIRED_COLUMNS}
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < len(header):
            raise InputError(
                f"{path}, line {lineno}: {len(fields)} columns, expected {len(header)}"
            )
        rows.append(
            (
                lineno,
                *(fields[col[c]].strip() for c in ("tile_id", "chrom", "start", "end", "model")),
                path.parent,
            )
        )
    return rows


def _lab_rows(path: Path, lines: list[str]) -> list[tuple]:
    """Rows of the lab's regions file, with models from the metadata.tsv beside it."""
    metadata = path.parent / LAB_METADATA
    if not metadata.is_file():
        raise InputError(
            f"{path} is a lab regions file, but {metadata} (SUFFIX, MODEL_DIR, MODEL_NAME per line) "
            "is missing; put it beside the regions file"
        )
    models: dict[str, str] = {}
    for lineno, line in enumerate(metadata.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputError(
                f"{metadata}, line {lineno}: expected SUFFIX<TAB>MODEL_DIR<TAB>MODEL_NAME"
            )
        name = fields[2].strip()
        if not name.endswith(".pth"):
            name += ".pth"
        models[fields[0].strip()] = str(Path(fields[1].strip()) / name)
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LAB_REGION.match(line)
        if not match:
            raise InputError(f"{path}, line {lineno}: expected chrom:start-end<TAB>SUFFIX")
        chrom, start, end, suffix = match.groups()
        if suffix not in models:
            raise InputError(f"{path}, line {lineno}: tile {suffix} has no line in {metadata}")
        rows.append((lineno, suffix, chrom, start, end, models[suffix], metadata.parent))
    return rows


def _validate(path: Path, rows: list[tuple], check_models: bool) -> list[Tile]:
    tiles: list[Tile] = []
    seen: dict[str, int] = {}
    for lineno, tile_id, chrom, start_text, end_text, model_text, base in rows:
        if not _TILE_ID.match(tile_id):
            raise InputError(
                f"{path}, line {lineno}: tile_id {tile_id!r} may hold only letters, digits, "
                "'.', '_' and '-' (it names output files)"
            )
        if tile_id in seen:
            raise InputError(
                f"{path}, line {lineno}: duplicate tile_id {tile_id!r} (first on line "
                f"{seen[tile_id]}); every tile needs its own id"
            )
        seen[tile_id] = lineno
        try:
            start, end = int(start_text), int(end_text)
        except ValueError:
            raise InputError(f"{path}, line {lineno}: start and end must be integers") from None
        if start < 1 or end < start:
            raise InputError(
                f"{path}, line {lineno}: tile {tile_id} has start {start} and end {end}; "
                "coordinates are 1-based and end must not be before start"
            )
        model = None if model_text in ("", "-", ".") else Path(model_text)
        if model is not None and not model.is_absolute():
            model = base / model
        if check_models and model is not None and not model.exists():
            raise InputError(
                f"{path}, line {lineno}: model {model} of tile {tile_id} does not exist"
            )
        tiles.append(Tile(tile_id, chrom, start, end, model))
    if not tiles:
        raise InputError(f"{path}: the tile table lists no tiles")
    return tiles


def get_tile(path: str | Path, tile_id: str, check_models: bool = True) -> Tile:
    """Return the tile `tile_id` of the table at `path`."""
    for tile in read_tiles(path, check_models):
        if tile.tile_id == tile_id:
            return tile
    raise InputError(f"{path}: no tile with tile_id {tile_id!r}")
