"""The lab's own layout, as TorkamaniLab's scripts leave it, runs with `vcf` and `tiles` alone;
its output is seen whole by every dataset reader. Oracles: pyarrow.dataset (R's
arrow::open_dataset), DuckDB and polars on the same folder; the whole-VCF run for the per-tile run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.dataset as ds
import pytest
import torch
from htstools import bcftools, tabix
from safetensors.torch import load_file
from test_workflow import snakemake

pytestmark = pytest.mark.slow


def lab_files(bundle: Path, folder: Path, name: str) -> None:
    """A native bundle of the lab architecture written back as NAME.pth, NAME_param.py, NAME.pos."""
    arch = json.loads((bundle / "model.json").read_text())["architecture"]
    torch.save(load_file(bundle / "model.safetensors"), folder / f"{name}.pth")
    (folder / f"{name}_param.py").write_text(
        f"n_layers = {arch['n_layers']}\nsize_ratio = {arch['size_ratio']}\n"
        f"activation = '{arch['activation']}'\n"
    )
    rows = (bundle / "variants.tsv").read_text().splitlines()[1:]
    pos = ["#CHROM\tPOS\tID\tREF\tALT"] + [
        f"{c}\t{p}\t.\t{r}\t{a}" for c, p, r, a in (row.split("\t") for row in rows)
    ]
    (folder / f"{name}.pos").write_text("\n".join(pos) + "\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, example: Path) -> Path:
    """best_model_weights/ with metadata.tsv, tiling_regions/, input_tiles_chr22/."""
    work = tmp_path_factory.mktemp("lab")
    rows = [line.split("\t") for line in (example / "tiles.tsv").read_text().splitlines()[1:]]
    regions, metadata = [], []
    (work / "input_tiles_chr22").mkdir()
    for k, (_, chrom, start, end, model) in enumerate(rows[:3]):
        suffix = f".{start}-{end}.vcf.VMV1"
        regions.append(f"{chrom}:{start}-{end}\t{suffix}")
        tile_vcf = work / "input_tiles_chr22" / f"input_chr22{suffix}.gz"  # as genome_tiler.sh
        region = f"{chrom}:{start}-{end}"
        bcftools("view", "-r", region, "-Oz", "-o", tile_vcf, example / "cohort.vcf.gz")
        tabix(tile_vcf)
        if k == 2:
            continue  # its training failed: no model line
        name = f"input_chr22{suffix}"
        model_dir = Path("best_model_weights") / f"{chrom}_{start}-{end}" / name
        (work / model_dir).mkdir(parents=True)
        source = example / model
        if source.suffix == ".pth":
            for ext in (".pth", "_param.py", ".pos"):
                shutil.copyfile(
                    source.with_name(source.stem + ext), work / model_dir / f"{name}{ext}"
                )
        else:
            lab_files(source, work / model_dir, name)
        metadata.append(f"{suffix}\t{model_dir}\t{name}")
    (work / "tiling_regions").mkdir()
    (work / "tiling_regions" / "chr22_regions_file.txt").write_text("\n".join(regions) + "\n")
    (work / "best_model_weights" / "metadata.tsv").write_text("\n".join(metadata) + "\n")
    return work


def run(lab: Path, name: str, vcf: str) -> Path:
    """The workflow in a copy of the lab's folder, with a two-key config."""
    work = lab.parent / f"{lab.name}-{name}"
    if not work.exists():
        shutil.copytree(lab, work)
        (work / "config.yaml").write_text(
            f"vcf: {vcf}\ntiles: tiling_regions/chr22_regions_file.txt\n"
        )
        proc = snakemake(work, "--configfile", "config.yaml", "--cores", "2")
        assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "results"


def test_lab_layout_runs_with_two_keys_and_reports_the_region_without_model(lab, example) -> None:
    results = run(lab, "whole", str(example / "cohort.vcf.gz"))
    rows = [line.split("\t") for line in (results / "qc_summary.tsv").read_text().splitlines()]
    status = {row[0]: row[1] for row in rows[1:]}
    assert status == {
        "22_17000001-17220000": "ok",
        "22_17300001-17520000": "ok",
        "22_17480001-17700000": "no_model",
    }
    names = [p.name for p in results.rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith((".", "_")) and not n.startswith(".snakemake")]


def test_every_reader_sees_every_row_and_per_tile_files_equal_the_whole_vcf(lab, example) -> None:
    whole = run(lab, "whole", str(example / "cohort.vcf.gz"))
    per_tile = run(lab, "tiles", "input_tiles_chr22/input_chr22{suffix}.gz")
    for results in (whole, per_tile):
        folder = results / "embeddings"
        arrow = ds.dataset(folder, format="parquet", partitioning="hive").count_rows()
        duck = (
            duckdb.connect()
            .execute(
                f"SELECT count(*) FROM read_parquet('{folder}/*/*.parquet', hive_partitioning = true)"
            )
            .fetchall()[0][0]
        )
        polars = pl.scan_parquet(f"{folder}/**/*.parquet", hive_partitioning=True).collect().height
        assert arrow == duck == polars == 2 * 330  # two tiles with models, latent only
    for tile in ("22_17000001-17220000", "22_17300001-17520000"):
        a = ds.dataset(whole / "embeddings" / "layer=latent" / f"{tile}.parquet").to_table()
        b = ds.dataset(per_tile / "embeddings" / "layer=latent" / f"{tile}.parquet").to_table()
        assert a.column("sample_id").to_pylist() == b.column("sample_id").to_pylist()
        np.testing.assert_array_equal(
            np.array(a.column("embedding").to_pylist()), np.array(b.column("embedding").to_pylist())
        )
        qc = json.loads((whole / "qc" / f"{tile}.json").read_text())
        assert qc["tile"]["label"] == f".{tile.split('_')[1]}.vcf.VMV1"  # the lab's suffix kept
