"""The embeddings in the shapes downstream tools take: a pandas or Arrow table for notebooks,
AnnData (`.h5ad`) for the scverse habit, and a REGENIE / PLINK 2 covariate file for embedding
GWAS (chosen latent dimensions, or their top principal components).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .files import atomic_path, write_text_atomic
from .matrix import LayerMatrix, assemble


def _matrix(outdir: str | Path, layer: str, tiles: list[str] | None) -> LayerMatrix:
    """One layer across tiles (failed, empty tiles left out), samples x `tile:index` features."""
    folder = Path(outdir) / "embeddings"
    if not folder.is_dir():
        raise InputError(f"{folder} does not exist: give the workflow's outdir (e.g. results)")
    if tiles is None:
        import pyarrow.parquet as pq

        tiles = sorted(
            p.stem
            for p in (folder / f"layer={layer}").glob("*.parquet")
            if pq.ParquetFile(p).metadata.num_rows
        )
    return assemble(folder, layer, tiles)


def read_embeddings(
    outdir: str | Path = "results",
    layer: str = "latent",
    tiles: list[str] | None = None,
    arrow: bool = False,
) -> Any:
    """One layer of a run as a table, a row per sample and a column per feature (`tile:index`):
    a pandas DataFrame indexed by sample_id, or (`arrow=True`) an Arrow table."""
    matrix = _matrix(outdir, layer, tiles)
    if arrow:
        import pyarrow as pa

        columns = {"sample_id": pa.array(matrix.samples)}
        columns.update({n: matrix.values[:, j] for j, n in enumerate(matrix.feature_names)})
        return pa.table(columns)
    import pandas as pd

    frame = pd.DataFrame(matrix.values, columns=matrix.feature_names, index=matrix.samples)
    frame.index.name = "sample_id"
    return frame


def write_h5ad(
    outdir: str | Path,
    out: str | Path,
    layer: str = "latent",
    tiles: list[str] | None = None,
    sample_metadata: str | Path | None = None,
) -> Path:
    """AnnData of one layer: obs the samples (with the sample table's columns), var each
    feature's tile and index, X the values."""
    import anndata
    import pandas as pd

    matrix = _matrix(outdir, layer, tiles)
    obs = pd.DataFrame(index=pd.Index(matrix.samples, name="sample_id"))
    if sample_metadata:
        table = pd.read_csv(sample_metadata, sep="\t", dtype=str).set_index("sample_id")
        obs = obs.join(table, how="left")
    var = pd.DataFrame(
        {"tile_id": matrix.feature_tile, "index": matrix.feature_index},
        index=pd.Index(matrix.feature_names, name="feature"),
    )
    adata = anndata.AnnData(X=matrix.values, obs=obs, var=var)
    adata.uns["vcf2embed"] = {"layer": layer}
    out = Path(out)
    with atomic_path(out) as tmp:
        adata.write_h5ad(tmp)
    return out


def write_covariates(
    outdir: str | Path,
    out: str | Path,
    layer: str = "latent",
    tiles: list[str] | None = None,
    dims: list[str] | None = None,
    pcs: int = 0,
    fid: str | None = None,
) -> Path:
    """A REGENIE / PLINK 2 covariate file (`FID IID ...`, whitespace): the features named in
    `dims` (`tile:index`), or the top `pcs` principal components of the layer. FID is the IID
    (as PLINK's `--double-id` and UK Biobank's files have it), or `fid` for every sample (e.g.
    `0` for a `.psam` without FIDs)."""
    matrix = _matrix(outdir, layer, tiles)
    if pcs:
        values, names = _top_pcs(matrix.values, pcs), [f"PC{i + 1}" for i in range(pcs)]
    else:
        wanted = dims or matrix.feature_names
        unknown = [d for d in wanted if d not in matrix.feature_names]
        if unknown:
            raise InputError(f"--dims {', '.join(unknown[:5])}: not features of layer {layer}")
        index = [matrix.feature_names.index(d) for d in wanted]
        values, names = matrix.values[:, index], [d.replace(":", "_") for d in wanted]
    lines = ["FID\tIID\t" + "\t".join(names)]
    lines += [
        f"{fid or s}\t{s}\t" + "\t".join(f"{v:.6g}" for v in row)
        for s, row in zip(matrix.samples, values)
    ]
    write_text_atomic(out, "\n".join(lines) + "\n")
    return Path(out)


def _top_pcs(values: np.ndarray, k: int) -> np.ndarray:
    """Scores of the top `k` principal components of standardised features."""
    x = values.astype(np.float64)
    sd = x.std(axis=0)
    x = (x[:, sd > 0] - x[:, sd > 0].mean(axis=0)) / sd[sd > 0]
    if k > min(x.shape):
        raise InputError(f"--pcs {k}: the layer has only {min(x.shape)} components")
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, :k] * s[:k]
