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


def read_tiles(path: str | Path, check_models: bool = True) -> list[Tile]:
    """Read and validate a tile table (TSV with a header); model paths resolve against its folder."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"tile table {path} does not exist; set `tiles:` to a TSV file")
    with open(path) as fh:
        lines = [line.rstrip("\n\r") for line in fh]
    if not lines:
        raise InputError(f"{path}: the tile table is empty; it needs a header line")
    header = lines[0].split("\t")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must hold "
            f"{', '.join(REQUIRED_COLUMNS)} separated by tabs"
        )
    col = {name: header.index(name) for name in REQUIRED_COLUMNS}
    tiles: list[Tile] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < len(header):
            raise InputError(
                f"{path}, line {lineno}: {len(fields)} columns, expected {len(header)}"
            )
        tile_id = fields[col["tile_id"]].strip()
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
            start = int(fields[col["start"]])
            end = int(fields[col["end"]])
        except ValueError:
            raise InputError(f"{path}, line {lineno}: start and end must be integers") from None
        if start < 1 or end < start:
            raise InputError(
                f"{path}, line {lineno}: tile {tile_id} has start {start} and end {end}; "
                "coordinates are 1-based and end must not be before start"
            )
        model_text = fields[col["model"]].strip()
        model = None if model_text in ("", "-", ".") else Path(model_text)
        if model is not None and not model.is_absolute():
            model = path.parent / model
        if check_models and model is not None and not model.exists():
            raise InputError(
                f"{path}, line {lineno}: model {model} of tile {tile_id} does not exist"
            )
        tiles.append(Tile(tile_id, fields[col["chrom"]].strip(), start, end, model))
    if not tiles:
        raise InputError(f"{path}: the tile table lists no tiles")
    return tiles


def get_tile(path: str | Path, tile_id: str, check_models: bool = True) -> Tile:
    """Return the tile `tile_id` of the table at `path`."""
    for tile in read_tiles(path, check_models):
        if tile.tile_id == tile_id:
            return tile
    raise InputError(f"{path}: no tile with tile_id {tile_id!r}")
