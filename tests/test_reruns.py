"""Cluster-scale reruns: what a changed config or tile table plans (Snakemake's own dry run is
the oracle), a bad tile skipped, and cohorts of 1 to 3 samples through the whole workflow."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from htstools import bcftools, tabix
from test_workflow import snakemake

pytestmark = pytest.mark.slow


def config(example: Path, work: Path, **extra: str) -> Path:
    """A config of the example in `work` (its own tile table and sample table)."""
    shutil.copyfile(example / "tiles.tsv", work / "tiles.tsv")
    text = (example / "tiles.tsv").read_text()
    (work / "tiles.tsv").write_text(re.sub(r"\tmodels/", f"\t{example}/models/", text))
    meta = (example / "samples.tsv").read_text().splitlines()
    groups = [f"{meta[0]}\thalf"] + [f"{row}\t{'ab'[i % 2]}" for i, row in enumerate(meta[1:])]
    (work / "samples.tsv").write_text("\n".join(groups) + "\n")
    settings = {
        "vcf": str(example / "cohort.vcf.gz"),
        "tiles": "tiles.tsv",
        "device": "cpu",
        "tiles_per_embed_job": "2",
        "sample_metadata": "samples.tsv",
        "color_by": "population",
        "layers": "['encoder.0']",
        **extra,
    }
    path = work / "cfg.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in settings.items()))
    return path


def planned(work: Path) -> dict[str, int]:
    """Jobs per rule that a dry run plans."""
    proc = snakemake(work, "--configfile", "cfg.yaml", "-n", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) != "total":
            jobs[match.group(1)] = int(match.group(2))
    return jobs


@pytest.fixture(scope="module")
def done(tmp_path_factory, example: Path) -> Path:
    work = tmp_path_factory.mktemp("rerun")
    config(example, work)
    proc = snakemake(work, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned(work) == {}
    return work


def test_report_settings_rerun_only_the_report(done: Path, example: Path) -> None:
    config(example, done, color_by="half")
    jobs = planned(done)
    assert jobs.get("report") == 1
    assert not {"genotypes", "embed", "publish"} & set(jobs), jobs


def test_new_layers_do_not_reread_genotypes(done: Path, example: Path) -> None:
    config(example, done, layers="['encoder.0', 'decoder.0']")
    jobs = planned(done)
    assert "genotypes" not in jobs and jobs.get("embed", 0) >= 1, jobs


def test_a_tile_inserted_first_plans_one_genotypes_and_one_embed_job(done, example) -> None:
    config(example, done)
    table = (done / "tiles.tsv").read_text().splitlines()
    first = table[1].split("\t")
    first[0] = "tile00"
    (done / "tiles.tsv").write_text("\n".join([table[0], "\t".join(first), *table[1:]]) + "\n")
    jobs = planned(done)
    assert jobs.get("genotypes") == 1 and jobs.get("embed", 0) <= 1, jobs


def test_a_bad_tile_is_skipped_and_named(tmp_path: Path, example: Path) -> None:
    config(example, tmp_path, on_tile_error="skip")
    model = shutil.copytree(example / "models" / "tile02", tmp_path / "moved")
    rows = (model / "variants.tsv").read_text().splitlines()
    moved = [r.split("\t") for r in rows[1:]]  # a model of variants the cohort does not hold
    (model / "variants.tsv").write_text(
        "\n".join(
            [rows[0], *("\t".join([c, str(int(p) + 20_000_000), a, b]) for c, p, a, b in moved)]
        )
        + "\n"
    )
    bad = f"tilebad\t22\t37300001\t37520000\t{model}"
    table = (tmp_path / "tiles.tsv").read_text().splitlines()
    (tmp_path / "tiles.tsv").write_text("\n".join([*table, bad]) + "\n")
    proc = snakemake(tmp_path, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [
        line.split("\t")
        for line in (tmp_path / "results" / "qc_summary.tsv").read_text().splitlines()
    ]
    header, body = rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert header[1] == "status" and len(body) == 6
    assert body["tilebad"]["status"] == "failed_genotypes"
    assert "were found" in body["tilebad"]["error"]
    assert all(body[t]["status"] == "ok" for t in body if t != "tilebad")
    dataset = ds.dataset(tmp_path / "results" / "embeddings" / "layer=latent", format="parquet")
    table = dataset.to_table()
    assert table.num_rows == 5 * 330 and "tilebad" not in set(table.column("tile_id").to_pylist())
    assert (
        "1 of 6 tiles were skipped"
        in (tmp_path / "results" / "report" / "qc_summary.html").read_text()
    )
    assert "tilebad" in (tmp_path / "results" / "logs" / "qc_summary.log").read_text()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_cohorts_run_the_default_workflow(tmp_path: Path, example: Path, n: int) -> None:
    names = bcftools("query", "-l", example / "cohort.vcf.gz").split()[:n]
    vcf = tmp_path / "tiny.vcf.gz"
    bcftools("view", "-s", ",".join(names), "-Oz", "-o", vcf, example / "cohort.vcf.gz")
    tabix(vcf)
    config(example, tmp_path, vcf=str(vcf))
    proc = snakemake(tmp_path, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "results" / "report" / "latent_pca.png").stat().st_size > 0
    dataset = ds.dataset(tmp_path / "results" / "embeddings" / "layer=latent", format="parquet")
    assert dataset.count_rows() == 5 * n


OUTPUT_KINDS = [
    "embeddings/layer=latent/tile02.parquet",
    "embeddings/layer=encoder.0/tile04.parquet",
    "qc/tile03.json",
    "qc/tile01.samples.tsv",
    "qc_summary.tsv",
    "qc_samples.tsv",
    "report/latent_pca.tsv",
    "report/latent_pca.json",
    "report/activations.png",
    "report/qc_summary.html",
]


def test_every_deleted_output_is_rebuilt_equal(done: Path, example: Path) -> None:
    config(example, done)
    assert planned(done) == {}
    results = done / "results"
    before = {name: (results / name).read_bytes() for name in OUTPUT_KINDS}
    (results / "embeddings/layer=encoder.0/tile04.parquet").unlink()
    assert planned(done) == {"publish_layer": 1, "all": 1}  # exactly the file deleted
    for name in OUTPUT_KINDS:
        (results / name).unlink(missing_ok=True)
    proc = snakemake(done, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in OUTPUT_KINDS:
        assert (results / name).read_bytes() == before[name], name


def test_new_layers_replace_the_files_of_an_earlier_config(done: Path, example: Path) -> None:
    """Publishing after a change of `layers` drops the earlier layer's files (and its folder):
    a dataset read of `embeddings/` then holds only what this config asked for. Runs last: it
    changes `done`'s outputs."""
    results = done / "results" / "embeddings"
    assert len(list((results / "layer=encoder.0").glob("*.parquet"))) == 5
    config(example, done, layers="['decoder.0']")
    proc = snakemake(done, "--configfile", "cfg.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in results.iterdir()) == ["layer=decoder.0", "layer=latent"]
    dataset = ds.dataset(results, format="parquet", partitioning="hive")
    layers = set(dataset.to_table(columns=["layer"]).column("layer").to_pylist())
    assert layers == {"decoder.0", "latent"}
    assert dataset.count_rows() == 2 * 5 * 330
