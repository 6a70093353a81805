"""Exports read back by their own ecosystems' readers: pandas/Arrow, anndata, and plink2 on the
covariate file. Oracle: the Parquet files read with pyarrow; scikit-learn's PCA."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.decomposition import PCA

import vcf2embed
from vcf2embed.embed import embed_tile
from vcf2embed.export import write_covariates, write_h5ad
from vcf2embed.genotypes import read_tile_genotypes
from vcf2embed.models import load_model
from vcf2embed.tiles import read_tiles


@pytest.fixture(scope="module")
def outdir(example: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    for tile in read_tiles(example / "tiles.tsv")[:2]:
        model = load_model(tile.model)
        g = read_tile_genotypes(example / "cohort.vcf.gz", tile, model.variants)
        embed_tile(g, tile, model, out, device="cpu")
    return out


def parquet_values(outdir: Path, tile: str) -> tuple[list[str], np.ndarray]:
    table = pq.read_table(outdir / "embeddings" / "layer=latent" / f"{tile}.parquet")
    return table.column("sample_id").to_pylist(), np.array(table.column("embedding").to_pylist())


def test_read_embeddings_as_pandas_and_arrow(outdir: Path) -> None:
    frame = vcf2embed.read_embeddings(outdir)
    samples, v1 = parquet_values(outdir, "tile01")
    _, v2 = parquet_values(outdir, "tile02")
    assert list(frame.index) == samples and frame.index.name == "sample_id"
    assert frame.columns[0] == "tile01:0" and frame.shape == (330, v1.shape[1] + v2.shape[1])
    np.testing.assert_array_equal(frame.to_numpy(), np.hstack([v1, v2]).astype(np.float32))
    table = vcf2embed.read_embeddings(outdir, tiles=["tile02"], arrow=True)
    assert table.column_names[0] == "sample_id" and table.num_columns == 1 + v2.shape[1]


def test_h5ad_read_back_by_anndata(outdir: Path, example: Path, tmp_path: Path) -> None:
    path = write_h5ad(outdir, tmp_path / "latent.h5ad", sample_metadata=example / "samples.tsv")
    adata = anndata.read_h5ad(path)
    samples, v1 = parquet_values(outdir, "tile01")
    assert list(adata.obs_names) == samples
    assert adata.obs["population"].iloc[0] == "AFR"
    assert list(adata.var["tile_id"].unique()) == ["tile01", "tile02"]
    np.testing.assert_array_equal(np.asarray(adata.X)[:, : v1.shape[1]], v1.astype(np.float32))


def test_covariates_read_by_pandas_and_plink2(outdir: Path, example: Path, tmp_path: Path) -> None:
    dims = write_covariates(outdir, tmp_path / "dims.txt", dims=["tile01:0", "tile02:3"])
    table = pd.read_csv(dims, sep=r"\s+")
    samples, v1 = parquet_values(outdir, "tile01")
    assert list(table.columns) == ["FID", "IID", "tile01_0", "tile02_3"]
    assert list(table["IID"]) == samples == list(table["FID"])
    np.testing.assert_allclose(table["tile01_0"], v1[:, 0], rtol=1e-5)
    pcs = write_covariates(outdir, tmp_path / "pcs.txt", pcs=3)
    got = pd.read_csv(pcs, sep=r"\s+")[["PC1", "PC2", "PC3"]].to_numpy()
    x = vcf2embed.read_embeddings(outdir).to_numpy().astype(np.float64)
    x = x[:, x.std(axis=0) > 0]
    expected = PCA(3).fit_transform((x - x.mean(axis=0)) / x.std(axis=0))
    np.testing.assert_allclose(np.abs(got), np.abs(expected), rtol=1e-4, atol=1e-4)
    if shutil.which("plink2") is None:
        return
    subprocess.run(
        [
            "plink2",
            "--silent",
            "--vcf",
            str(example / "cohort.vcf.gz"),
            "--vcf-half-call",
            "m",
            "--make-pgen",
            "--out",
            str(tmp_path / "c"),
        ],
        check=True,
    )
    # plink2's .psam from a VCF has IIDs only, which --covar matches as FID 0
    pcs0 = write_covariates(outdir, tmp_path / "pcs0.txt", pcs=3, fid="0")
    proc = subprocess.run(
        [
            "plink2",
            "--pfile",
            str(tmp_path / "c"),
            "--covar",
            str(pcs0),
            "--write-covar",
            "--out",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = pd.read_csv(tmp_path / "w.cov", sep=r"\s+")
    assert list(written.columns)[-3:] == ["PC1", "PC2", "PC3"] and len(written) == 330
