"""Embedding files: Parquet with one row per sample, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .files import atomic_path

METADATA_KEY = b"vcf2embed"
ROW_GROUP_ROWS = 65536


def embedding_table(sample_ids: list[str], tile_id: str, values: np.ndarray) -> pa.Table:
    """Build the table `sample_id, tile_id, embedding list<float32>` from a (samples, dims) array."""
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(len(sample_ids), -1)
    width = values.shape[1]
    offsets = np.arange(0, (len(sample_ids) + 1) * width, width, dtype=np.int32)
    embedding = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.reshape(-1)))
    return pa.table(
        {
            "sample_id": pa.array(sample_ids, type=pa.string()),
            "tile_id": pa.array([tile_id] * len(sample_ids), type=pa.string()),
            "embedding": embedding.cast(pa.list_(pa.float32())),
        }
    )


def write_embeddings(
    path: str | Path,
    sample_ids: list[str],
    tile_id: str,
    values: np.ndarray,
    metadata: dict[str, Any],
) -> None:
    """Write one (layer, tile) embedding file with its metadata, atomically."""
    table = embedding_table(sample_ids, tile_id, values)
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            use_dictionary=["sample_id", "tile_id"],
            use_byte_stream_split=["embedding.list.element"],
            row_group_size=ROW_GROUP_ROWS,
        )


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Return the vcf2embed metadata of an embedding file."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[METADATA_KEY])


def read_embeddings(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Return sample IDs and the (samples, dims) float32 matrix of an embedding file."""
    table = pq.read_table(path, columns=["sample_id", "embedding"])
    samples = table.column("sample_id").to_pylist()
    flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return samples, flat.reshape(len(samples), -1).astype(np.float32, copy=False)
