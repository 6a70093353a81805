"""Publishing a tile's outputs: hard links from its embed batch folder to their final place."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import OutputError
from .files import atomic_path


def publish_tile(
    batch_dir: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    tile_id: str,
    layer: str | None = None,
    keep: list[str] | None = None,
) -> list[Path]:
    """Link one tile's outputs from a batch folder into `outdir`: its latent and QC files (and
    drop its layer files an earlier config left, with folders they leave empty, but not the
    layers in `keep`, which other jobs publish), or, with `layer`, that one layer's file."""
    batch_dir, outdir = Path(batch_dir), Path(outdir)
    if layer is not None:
        name = Path("embeddings") / f"layer={layer}" / f"{tile_id}.parquet"
        if not (batch_dir / name).exists() and _failed(batch_dir, tile_id):
            return [_empty_layer(outdir / name, tile_id, layer)]
        return [_link(batch_dir, outdir, name)]
    wanted = {
        p.relative_to(batch_dir) for p in batch_dir.glob(f"embeddings/layer=*/{tile_id}.parquet")
    }
    kept = {Path("embeddings") / f"layer={k}" / f"{tile_id}.parquet" for k in keep or []}
    for stale in outdir.glob(f"embeddings/layer=*/{tile_id}.parquet"):
        if stale.relative_to(outdir) not in wanted | kept:
            stale.unlink()
            with contextlib.suppress(OSError):  # only when the layer's folder is now empty
                stale.parent.rmdir()
    names = [
        Path("embeddings") / "layer=latent" / f"{tile_id}.parquet",
        Path("qc") / f"{tile_id}.samples.tsv",
        Path("qc") / f"{tile_id}.json",  # last: it marks the tile complete
    ]
    return [_link(batch_dir, outdir, name) for name in names]


def _failed(batch_dir: Path, tile_id: str) -> bool:
    """True when the batch recorded the tile as failed and skipped."""
    import json

    qc = batch_dir / "qc" / f"{tile_id}.json"
    return qc.exists() and json.loads(qc.read_text()).get("status") == "failed"


def _empty_layer(path: Path, tile_id: str, layer: str) -> Path:
    """A skipped tile's layer file: no rows, its metadata saying so."""
    from .parquet import EmbeddingWriter

    meta = {"tile_id": tile_id, "status": "failed", "layer": layer}
    return EmbeddingWriter(path, tile_id, 0, meta).close()


def _link(batch_dir: Path, outdir: Path, name: Path) -> Path:
    """Hard-link (or copy) `batch_dir/name` to `outdir/name`, atomically."""
    src, dst = batch_dir / name, outdir / name
    if not src.exists():
        raise OutputError(f"{src} is missing: the embed job did not write it; rerun the embed step")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:  # another file system: copy instead
            import shutil

            shutil.copyfile(src, tmp)
    os.utime(dst)
    return dst
