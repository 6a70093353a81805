"""End to end: the real Snakemake workflow on the bundled example, checked independently."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import snakemake_command, tile_rows, venv_env
from oracle import encode_presence, encoder_forward, model_weights, oracle_alleles

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command("--directory", str(workdir), *args),
        capture_output=True,
        text=True,
        env=venv_env(),
        cwd=workdir,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory, example: Path) -> Path:
    work = tmp_path_factory.mktemp("work")
    (work / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\n"
        f"tiles: {example / 'tiles.tsv'}\n"
        "layers: ['encoder.0']\n"
        "device: cpu\n"
        "batch_size: 64\n"
        "outdir: out\n"
    )
    proc = snakemake(work, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_every_latent_equals_independent_computation(run: Path, example: Path) -> None:
    import pyarrow.parquet as pq

    for tile_id, chrom, _start, _end, model in tile_rows(example):
        weights, activation, variants = model_weights(example / model)
        region = f"{chrom}:{min(v[0] for v in variants)}-{max(v[0] for v in variants)}"
        names, codes = oracle_alleles(example / "cohort.vcf.gz", region, variants)
        expected = encoder_forward(encode_presence(codes), weights, activation)
        table = pq.read_table(run / "out" / "embeddings" / "layer=latent" / f"{tile_id}.parquet")
        assert table.column("sample_id").to_pylist() == names
        assert set(table.column("tile_id").to_pylist()) == {tile_id}
        got = np.array(table.column("embedding").to_pylist(), dtype=np.float64)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_dataset_opens_in_pyarrow_polars_duckdb(run: Path, example: Path) -> None:
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    root = run / "out" / "embeddings"
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    table = dataset.to_table()
    n_tiles = len(tile_rows(example))
    assert table.num_rows == 330 * n_tiles * 2
    assert set(table.column("layer").to_pylist()) == {"latent", "encoder.0"}
    latent = dataset.to_table(filter=ds.field("layer") == "latent").sort_by(
        [("tile_id", "ascending"), ("sample_id", "ascending")]
    )

    frame = (
        pl.scan_parquet(str(root / "**" / "*.parquet"), hive_partitioning=True)
        .filter(pl.col("layer") == "latent")
        .sort(["tile_id", "sample_id"])
        .collect()
    )
    assert frame["sample_id"].to_list() == latent.column("sample_id").to_pylist()
    assert frame["embedding"].to_list() == latent.column("embedding").to_pylist()

    con = duckdb.connect()
    rows = con.execute(
        f"SELECT tile_id, sample_id, embedding FROM read_parquet('{root}/*/*.parquet', hive_partitioning = true) "
        "WHERE layer = 'latent' ORDER BY tile_id, sample_id"
    ).fetchall()
    assert [r[1] for r in rows] == latent.column("sample_id").to_pylist()
    assert [list(r[2]) for r in rows] == latent.column("embedding").to_pylist()
    widths = dict(
        con.execute(
            f"SELECT tile_id, max(len(embedding)) FROM read_parquet('{root}/*/*.parquet', hive_partitioning = true) "
            "WHERE layer = 'latent' GROUP BY tile_id"
        ).fetchall()
    )
    assert len(widths) == n_tiles


def test_outputs_qc_and_rerun_is_noop(run: Path, example: Path) -> None:
    summary = (run / "out" / "qc_summary.tsv").read_text().splitlines()
    assert len(summary) == 1 + len(tile_rows(example))
    assert all((run / "out" / "qc" / f"{t[0]}.json").exists() for t in tile_rows(example))
    proc = snakemake(run, "--configfile", "cfg.yaml", "--cores", "2", "-n")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr


def test_qc_tables_equal_pandas_from_the_tile_files(run: Path) -> None:
    """qc_summary.tsv against pandas on the per-tile JSONs; qc_samples.tsv against the per-tile
    sample TSVs, concordance weighted by each tile's observed calls (not a mean of means)."""
    import pandas as pd

    out = run / "out"
    qc = pd.json_normalize([json.loads(p.read_text()) for p in sorted(out.glob("qc/*.json"))])
    summary = pd.read_csv(out / "qc_summary.tsv", sep="\t").set_index("tile_id")
    qc = qc.set_index("tile_id").loc[summary.index]
    for column in ("matched", "matched_swapped", "calls_missing", "calls_half_missing"):
        assert (summary[column] == qc[f"alignment.{column}"]).all(), column
    assert (summary["n_samples"] == qc["n_samples"]).all()
    assert (summary["latent_width"] == qc["layers.latent.width"]).all()
    np.testing.assert_allclose(summary["match_rate"], qc["alignment.match_rate"], atol=1e-6)
    np.testing.assert_allclose(
        summary["reconstruction_concordance"], qc["reconstruction.concordance"], atol=1e-6
    )
    per_tile = pd.concat(
        pd.read_csv(out / "qc" / f"{tile}.samples.tsv", sep="\t") for tile in summary.index
    )
    per_tile["correct"] = per_tile["concordance"] * per_tile["observed_calls"]
    grouped = per_tile.groupby("sample_id")
    expected = grouped["correct"].sum() / grouped["observed_calls"].sum()
    samples = pd.read_csv(out / "qc_samples.tsv", sep="\t").set_index("sample_id")
    assert set(samples.index) == set(expected.index)
    assert (samples["tiles"] == grouped.size().loc[samples.index]).all()
    assert (samples["observed_calls"] == grouped["observed_calls"].sum().loc[samples.index]).all()
    np.testing.assert_allclose(
        samples["reconstruction_concordance"], expected.loc[samples.index], atol=1e-6
    )
    unweighted = grouped["concordance"].mean().loc[samples.index]
    assert not np.allclose(samples["reconstruction_concordance"], unweighted, atol=1e-6)


def test_bad_config_stops_with_schema_message(tmp_path: Path, example: Path) -> None:
    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\nbatch_size: 0\n"
    )
    proc = snakemake(tmp_path, "--configfile", "cfg.yaml", "--cores", "1")
    assert proc.returncode != 0
    assert "batch_size" in proc.stderr and "minimum" in proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def example_run(tmp_path_factory, example: Path) -> Path:
    """The bundled config.yaml run as `make demo` runs it, in a copy of the repository layout."""
    work = tmp_path_factory.mktemp("demo")
    (work / "resources").symlink_to(ROOT / "resources")
    (work / "cfg.yaml").write_text((ROOT / "config.yaml").read_text())
    proc = snakemake(work, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_report_figures_and_population_separation(example_run: Path) -> None:
    import json

    report = example_run / "results" / "report"
    for name in (
        "qc_summary.html",
        "match_concordance.png",
        "latent_pca.png",
        "activations.png",
        "latent_pca.tsv",
    ):
        assert (report / name).stat().st_size > 1000, name
    for png in report.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = json.loads((report / "latent_pca.json").read_text())
    assert stats["color_by"] == "population" and stats["n_samples"] == 330
    # three simulated populations: the latents' first two PCs separate them
    assert stats["silhouette_pc1_pc2"] > 0.25
    proc = snakemake(example_run, "--configfile", "cfg.yaml", "--report", "report.html")
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (example_run / "report.html").read_text(errors="replace")
    assert "activations.png" in text and "latent_pca.png" in text


def test_example_models_reach_documented_concordance(example_run: Path) -> None:
    rows = (example_run / "results" / "qc_summary.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    col = header.index("reconstruction_concordance")
    values = [float(r.split("\t")[col]) for r in rows[1:]]
    assert len(values) == 5 and min(values) >= 0.84  # README: 0.85-0.89
    samples = (example_run / "results" / "qc_samples.tsv").read_text().splitlines()
    assert len(samples) == 331


def test_tiles_without_model_are_trained(tmp_path: Path, example: Path) -> None:
    import json

    table = (example / "tiles.tsv").read_text().splitlines()
    tile02 = table[2].split("\t")
    rows = [
        table[0],
        "\t".join([*tile02[:4], str(example / tile02[4])]),
        "new01\t22\t17000001\t17100000\t",
    ]
    (tmp_path / "tiles.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: tiles.tsv\ndevice: cpu\n"
        "train: {epochs: 5, seed: 2, min_maf: 0.05}\n"
    )
    proc = snakemake(tmp_path, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "results" / "models" / "new01" / "model.json").read_text())
    assert meta["training"]["settings"]["seed"] == 2 and meta["training"]["epochs_run"] == 5
    assert (tmp_path / "results" / "embeddings" / "layer=latent" / "new01.parquet").exists()
