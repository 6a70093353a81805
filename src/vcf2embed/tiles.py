"""The tile table: which genomic region each model covers and where the model lives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .lab_tiles import LAB_REGION, lab_rows

REQUIRED_COLUMNS = ("tile_id", "chrom", "start", "end", "model")
# names output files: no leading dot or underscore (dataset readers skip such files), no '/'
_TILE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Tile:
    """One tile: 1-based inclusive coordinates and the path of its model."""

    tile_id: str
    chrom: str
    start: int
    end: int
    model: Path | None  # None: no model yet (the workflow trains one)
    label: str | None = None  # the lab's tile suffix (`.17274081-17382360.vcf.VMV1`), if any

    @property
    def region(self) -> str:
        """Return the region as `chrom:start-end`."""
        return f"{self.chrom}:{self.start}-{self.end}"


def read_tiles(
    path: str | Path, check_models: bool = True, lab_metadata: str | Path | None = None
) -> list[Tile]:
    """Read and validate a tile table; model paths resolve against its folder.

    Two formats: the TSV with a header `tile_id chrom start end model`, or the lab's
    `regions_file.txt` with its `metadata.tsv` (see `lab_tiles`); a lab region without a model
    is left out here (`unmodelled_regions` lists it).
    """
    return _validate(path, _rows(path, lab_metadata)[0], check_models)


def unmodelled_regions(path: str | Path, lab_metadata: str | Path | None = None) -> list[Tile]:
    """The lab regions that have no model (not embedded; reported as `no_model`)."""
    return _validate(path, _rows(path, lab_metadata)[1], check_models=False, allow_empty=True)


def _rows(path: str | Path, lab_metadata: str | Path | None) -> tuple[list[tuple], list[tuple]]:
    """The table's rows, and (lab tables) the regions without a model."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"tile table {path} does not exist; set `tiles:` to a TSV file")
    with open(path) as fh:
        lines = [line.rstrip("\n\r") for line in fh]
    if not lines:
        raise InputError(f"{path}: the tile table is empty; it needs a header line")
    first = next((line for line in lines if line.strip()), "")
    if LAB_REGION.match(first):
        return lab_rows(path, lines, lab_metadata)
    return _table_rows(path, lines), []


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
                None,
            )
        )
    return rows


def _validate(
    path: str | Path, rows: list[tuple], check_models: bool, allow_empty: bool = False
) -> list[Tile]:
    tiles: list[Tile] = []
    seen: dict[str, int] = {}
    for lineno, tile_id, chrom, start_text, end_text, model_text, base, label in rows:
        if not _TILE_ID.match(tile_id):
            raise InputError(
                f"{path}, line {lineno}: tile_id {tile_id!r} names output files, so it must start "
                "with a letter or digit and hold only letters, digits, '.', '_' and '-' (a name "
                "starting with '.' or '_' is hidden from Arrow's dataset readers)"
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
        tiles.append(Tile(tile_id, chrom, start, end, model, label))
    if not tiles and not allow_empty:
        raise InputError(f"{path}: the tile table lists no tiles")
    return tiles


def get_tile(
    path: str | Path,
    tile_id: str,
    check_models: bool = True,
    lab_metadata: str | Path | None = None,
) -> Tile:
    """Return the tile `tile_id` of the table at `path`."""
    for tile in read_tiles(path, check_models, lab_metadata):
        if tile.tile_id == tile_id:
            return tile
    raise InputError(f"{path}: no tile with tile_id {tile_id!r}")
