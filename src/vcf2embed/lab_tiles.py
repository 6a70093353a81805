"""The lab's own tile list: `regions_file.txt` lines `22:17274081-17382360<TAB>SUFFIX` and a
`metadata.tsv` of `SUFFIX<TAB>MODEL_DIR<TAB>MODEL_NAME`, as TorkamaniLab's
`tiling_utils/generate_metadata.sh` writes it.

The metadata is found beside the regions file, else at `best_model_weights/metadata.tsv` in the
working directory (the lab's layout), else where `lab_metadata` says (which then wins).
`MODEL_DIR` is resolved against the working directory first (the lab writes it so), then against
the metadata's folder. Tile IDs are the lab's tile folder names, `CHROM_START-END`, so output
files never start with a dot; the lab's suffix stays with the tile (`Tile.label`), in its QC and
Parquet metadata, and fills `{suffix}` in a per-tile VCF pattern. A region with no metadata line
(a tile whose training failed) is kept apart as `no_model` and reported, not embedded.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import InputError

LAB_REGION = re.compile(r"^(\S+):(\d+)-(\d+)\s+(\S+)\s*$")
LAB_METADATA = "metadata.tsv"
LAB_WEIGHTS_METADATA = Path("best_model_weights") / LAB_METADATA


def find_lab_metadata(regions: Path, lab_metadata: str | Path | None = None) -> Path:
    """The metadata.tsv of a regions file, from the places the lab's layout puts it."""
    tried = [Path(lab_metadata)] if lab_metadata else []
    tried += [regions.parent / LAB_METADATA, Path.cwd() / LAB_WEIGHTS_METADATA]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise InputError(
        f"{regions} is a lab regions file, but its metadata.tsv (SUFFIX, MODEL_DIR, MODEL_NAME "
        f"per line) is in none of: {', '.join(map(str, tried))}; put it in one, or set "
        "`lab_metadata`"
    )


def read_lab_metadata(metadata: Path) -> dict[str, Path]:
    """SUFFIX -> the model's `.pth`, MODEL_DIR resolved against the working directory first."""
    models: dict[str, Path] = {}
    for lineno, line in enumerate(metadata.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputError(
                f"{metadata}, line {lineno}: expected SUFFIX<TAB>MODEL_DIR<TAB>MODEL_NAME"
            )
        name = fields[2].strip()
        name = name if name.endswith(".pth") else name + ".pth"
        folder = Path(fields[1].strip())
        candidates = (
            [folder / name]
            if folder.is_absolute()
            else [
                Path.cwd() / folder / name,
                metadata.parent / folder / name,
            ]
        )
        models[fields[0].strip()] = next((c for c in candidates if c.exists()), candidates[0])
    return models


def lab_tile_id(chrom: str, start: str, end: str) -> str:
    """The lab's tile folder name for a region: `22_17274081-17382360`."""
    return f"{chrom}_{start}-{end}"


def lab_rows(
    path: Path, lines: list[str], lab_metadata: str | Path | None = None
) -> tuple[list[tuple], list[tuple]]:
    """(rows with a model, rows without one) of a regions file, as table rows."""
    metadata = find_lab_metadata(path, lab_metadata)
    models = read_lab_metadata(metadata)
    rows, unmodelled = [], []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = LAB_REGION.match(line)
        if not match:
            raise InputError(f"{path}, line {lineno}: expected chrom:start-end<TAB>SUFFIX")
        chrom, start, end, suffix = match.groups()
        row = (lineno, lab_tile_id(chrom, start, end), chrom, start, end)
        if suffix in models:
            rows.append((*row, str(models[suffix]), Path("/"), suffix))
        else:
            unmodelled.append((*row, "", Path("/"), suffix))
    return rows, unmodelled
