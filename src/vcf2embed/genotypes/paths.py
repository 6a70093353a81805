"""Finding a tile's genotype file, its index, and its name for a tile's contig."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..tiles import Tile
from ..variants import chrom_forms


def resolve_vcf_path(pattern: str, tile: Tile) -> Path:
    """Fill `{chrom}` or `{tile}` in a genotype path pattern for `tile`."""
    if "{chrom}" in pattern:
        candidates = [pattern.replace("{chrom}", c) for c in chrom_forms(tile.chrom)]
        for cand in candidates:
            if Path(cand).exists():
                return Path(cand.replace("{tile}", tile.tile_id))
        raise InputError(f"no VCF for chromosome {tile.chrom}: tried {', '.join(candidates)}")
    if "{suffix}" in pattern:
        if tile.label is None:
            raise InputError(
                f"`vcf: {pattern}` holds {{suffix}}, the lab's tile suffix, but tile "
                f"{tile.tile_id} comes from a table without one; use {{tile}} or {{chrom}}"
            )
        pattern = pattern.replace("{suffix}", tile.label)
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


def check_indexed(path: Path) -> None:
    """Raise unless `path` exists and has a current .tbi or .csi index."""
    if not path.exists():
        raise InputError(f"VCF {path} does not exist")
    check_bgzf(path)
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


def check_bgzf(path: Path) -> None:
    """Raise for a `.gz` file compressed with plain gzip, which cannot be indexed or read by
    region, with how to recompress it."""
    if not path.name.endswith(".gz"):
        return
    with open(path, "rb") as fh:
        head = fh.read(18)
    gzip = head[:2] == b"\x1f\x8b"
    bgzf = gzip and len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC"
    if gzip and not bgzf:
        fixed = path.name.removesuffix(".gz") + ".bgz.vcf.gz"
        raise InputError(
            f"{path} is compressed with gzip, not bgzip, so it cannot be indexed or read by "
            f"region; recompress it with `zcat {path} | bgzip > {fixed}`, then index it with "
            f"`tabix -p vcf {fixed}`"
        )


def pick_contig(names: list[str], path: Path, chrom: str) -> str:
    """Return the file's name for `chrom`, with or without a `chr` prefix or a leading zero."""
    for cand in chrom_forms(chrom):
        if cand in names:
            return cand
    raise InputError(
        f"{path}: contig {chrom} (with or without 'chr' or a leading zero) is not in the "
        "genotype file; it has "
        f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
    )
