"""A tile that failed under `on_tile_error: skip`: what its outputs say instead of embeddings.

Its genotypes step writes a marker in place of the genotype intermediate; its embed step writes
the tile's usual files, empty: a latent Parquet with no rows (its metadata says why), a
per-sample table with only its header, and a QC JSON with `status: failed`, the step and the
error, which the summary and the report list.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .files import write_npz, write_text_atomic
from .parquet import EmbeddingWriter
from .tiles import Tile

log = logging.getLogger(__name__)


def write_genotypes_failure(path: str | Path, tile_id: str, message: str) -> None:
    """A genotypes marker that records why the tile failed (read back as TileFailedError)."""
    from .genotypes.store import STORE_VERSION

    meta = {"store_version": STORE_VERSION, "tile_id": tile_id, "failed": message}
    write_npz(path, {"meta": np.asarray(json.dumps(meta))})
    log.warning("tile %s skipped (on_tile_error: skip): %s", tile_id, message)


def write_embed_failure(outdir: str | Path, tile: Tile, stage: str, message: str) -> Path:
    """The failed tile's empty outputs and its QC JSON; returns the QC path."""
    outdir = Path(outdir)
    meta = {"tile_id": tile.tile_id, "status": "failed", "stage": stage, "error": message}
    path = outdir / "embeddings" / "layer=latent" / f"{tile.tile_id}.parquet"
    EmbeddingWriter(path, tile.tile_id, 0, {**meta, "layer": "latent"}).close()
    samples = outdir / "qc" / f"{tile.tile_id}.samples.tsv"
    write_text_atomic(samples, "sample_id\tobserved_calls\tconcordance\n")
    qc = {
        **meta,
        "tile": {"chrom": tile.chrom, "start": tile.start, "end": tile.end},
        "model": {"path": str(tile.model) if tile.model else None},
        "per_sample_file": samples.relative_to(outdir).as_posix(),
        "layers": {"latent": {"width": 0, "file": path.relative_to(outdir).as_posix()}},
    }
    qc_path = outdir / "qc" / f"{tile.tile_id}.json"
    write_text_atomic(qc_path, json.dumps(qc, indent=2, sort_keys=True) + "\n")
    log.warning("tile %s skipped (on_tile_error: skip) in %s: %s", tile.tile_id, stage, message)
    return qc_path
