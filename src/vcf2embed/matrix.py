"""One layer across tiles as a single samples x features matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError
from .files import atomic_path, write_text_atomic
from .parquet import read_embeddings


@dataclass
class LayerMatrix:
    """A samples x features matrix and what each feature is."""

    samples: list[str]
    values: np.ndarray  # float32 (samples, features)
    feature_tile: list[str]
    feature_index: list[int]

    @property
    def feature_names(self) -> list[str]:
        """Feature names `tile_id:index`."""
        return [f"{t}:{i}" for t, i in zip(self.feature_tile, self.feature_index)]


def assemble(
    embeddings: str | Path, layer: str = "latent", tile_ids: list[str] | None = None
) -> LayerMatrix:
    """Concatenate a layer's per-tile files; samples must be the same, in the same order."""
    folder = Path(embeddings) / f"layer={layer}"
    if not folder.is_dir():
        raise InputError(f"{folder} does not exist; is `{layer}` a captured layer?")
    files = {p.stem: p for p in folder.glob("*.parquet")}
    if tile_ids is None:
        tile_ids = sorted(files)
    missing = [t for t in tile_ids if t not in files]
    if missing:
        raise InputError(f"{folder}: no file for tile(s) {', '.join(missing[:5])}")
    if not tile_ids:
        raise InputError(f"{folder} holds no embedding files")
    blocks, feature_tile, feature_index = [], [], []
    samples: list[str] | None = None
    for tile_id in tile_ids:
        tile_samples, values = read_embeddings(files[tile_id])
        if samples is None:
            samples = tile_samples
        elif tile_samples != samples:
            raise InputError(
                f"{files[tile_id]}: its samples differ from {files[tile_ids[0]]}; rerun all tiles "
                "with the same VCF samples and samples file"
            )
        blocks.append(values)
        feature_tile += [tile_id] * values.shape[1]
        feature_index += list(range(values.shape[1]))
    return LayerMatrix(samples or [], np.concatenate(blocks, axis=1), feature_tile, feature_index)


def write_matrix(matrix: LayerMatrix, out: str | Path) -> list[Path]:
    """Write the matrix as `.npy` (plus `.samples.txt`) or wide Parquet, and `.features.tsv`."""
    out = Path(out)
    written = [out]
    if out.suffix == ".npy":
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, matrix.values)
        samples_path = out.with_suffix(".samples.txt")
        write_text_atomic(samples_path, "\n".join(matrix.samples) + "\n")
        written.append(samples_path)
    elif out.suffix == ".parquet":
        columns = {"sample_id": pa.array(matrix.samples, type=pa.string())}
        for j, name in enumerate(matrix.feature_names):
            columns[name] = pa.array(matrix.values[:, j], type=pa.float32())
        with atomic_path(out) as tmp:
            pq.write_table(pa.table(columns), tmp, compression="zstd", use_dictionary=["sample_id"])
    else:
        raise InputError(f"{out}: the matrix file must end in .npy or .parquet")
    features = out.with_suffix(".features.tsv")
    rows = ["feature\tcolumn\ttile_id\tindex"] + [
        f"{j}\t{name}\t{t}\t{i}"
        for j, (name, t, i) in enumerate(
            zip(matrix.feature_names, matrix.feature_tile, matrix.feature_index)
        )
    ]
    write_text_atomic(features, "\n".join(rows) + "\n")
    written.append(features)
    return written
