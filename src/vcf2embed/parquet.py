"""Embedding files: Parquet with one row per sample, written atomically."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import OutputError
from .files import temp_beside

METADATA_KEY = b"vcf2embed"
ROW_GROUP_ROWS = 65536


def _strings(values: list[str]) -> pa.Array:
    """A string array built from its buffers (`pa.array` would import pandas to inspect a list)."""
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), data])


def embedding_table(sample_ids: list[str], tile_id: str, values: np.ndarray) -> pa.Table:
    """Build the table `sample_id, tile_id, embedding list<float32>` from a (samples, dims) array."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    n = len(sample_ids)
    width = values.shape[1] if values.ndim == 2 else values.size // max(1, n)
    flat = pa.Array.from_buffers(pa.float32(), n * width, [None, pa.py_buffer(values)])
    offsets = np.arange(n + 1, dtype=np.int32) * width
    embedding = pa.ListArray.from_buffers(
        pa.list_(pa.float32()), n, [None, pa.py_buffer(offsets)], children=[flat]
    )
    return pa.Table.from_arrays(
        [_strings(sample_ids), _strings([tile_id] * n), embedding],
        names=["sample_id", "tile_id", "embedding"],
    )


def rows_per_group(width: int) -> int:
    """Rows per row group: up to 65,536 samples, about 32 MB of floats at most (1,024 at least)."""
    return int(max(1024, min(ROW_GROUP_ROWS, (32 << 20) // max(1, 4 * width))))


class EmbeddingWriter:
    """Streams one (layer, tile) file batch by batch; the file appears only on `close()`."""

    def __init__(
        self, path: str | Path, tile_id: str, width: int, metadata: dict[str, Any]
    ) -> None:
        self.path = Path(path)
        self.tmp = temp_beside(self.path)
        self.tile_id, self.width = tile_id, width
        self.group = rows_per_group(width)
        self.pending_ids: list[str] = []
        self.pending: list[np.ndarray] = []
        self.pending_rows = 0
        schema = embedding_table([], tile_id, np.zeros((0, width), dtype=np.float32)).schema
        schema = schema.with_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
        self.writer = pq.ParquetWriter(
            self.tmp,
            schema,
            compression="zstd",
            use_dictionary=["sample_id", "tile_id"],
            use_byte_stream_split=["embedding.list.element"],
        )

    def write(self, sample_ids: list[str], values: np.ndarray) -> None:
        """Add rows; full row groups are written out."""
        self.pending_ids += sample_ids
        self.pending.append(
            np.asarray(values, dtype=np.float32).reshape(len(sample_ids), self.width)
        )
        self.pending_rows += len(sample_ids)
        try:
            while self.pending_rows >= self.group:
                self._flush(self.group)
        except OSError as exc:
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}; free space or choose another outdir"
            ) from exc

    def _flush(self, rows: int) -> None:
        values = np.concatenate(self.pending, axis=0) if len(self.pending) > 1 else self.pending[0]
        ids = self.pending_ids
        self.writer.write_table(
            embedding_table(ids[:rows], self.tile_id, values[:rows]), row_group_size=rows
        )
        self.pending_ids = ids[rows:]
        self.pending = [values[rows:]] if len(values) > rows else []
        self.pending_rows -= rows

    def close(self) -> Path:
        """Write what is left and move the file into place."""
        try:
            if self.pending_rows:
                self._flush(self.pending_rows)
            self.writer.close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}; free space or choose another outdir"
            ) from exc
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


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


def read_embedding_rows(path: str | Path, samples: list[str]) -> tuple[list[str], np.ndarray]:
    """Sample IDs and (rows, dims) values of just `samples` (in file order), read a row group at a
    time so a large cohort's file is never held whole."""
    wanted = set(samples)
    ids: list[str] = []
    parts: list[np.ndarray] = []
    file = pq.ParquetFile(path)
    for group in range(file.num_row_groups):
        table = file.read_row_group(group, columns=["sample_id", "embedding"])
        group_ids = table.column("sample_id").to_pylist()
        rows = [i for i, sid in enumerate(group_ids) if sid in wanted]
        if not rows:
            continue
        flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        values = flat.reshape(len(group_ids), -1)
        ids += [group_ids[i] for i in rows]
        parts.append(values[rows].astype(np.float32))
    width = parts[0].shape[1] if parts else 0
    return ids, np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.float32)


def iter_embedding_groups(
    path: str | Path, columns: list[str] | None = None
) -> Iterator[tuple[list[str], np.ndarray | None]]:
    """Sample IDs and (rows, dims) float32 values of an embedding file, a row group at a time
    (values None when `columns` leaves `embedding` out)."""
    file = pq.ParquetFile(path)
    columns = columns or ["sample_id", "embedding"]
    for group in range(file.num_row_groups):
        table = file.read_row_group(group, columns=columns)
        ids = table.column("sample_id").to_pylist()
        if "embedding" not in columns:
            yield ids, None
            continue
        flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        yield ids, flat.reshape(len(ids), -1).astype(np.float32, copy=False)
