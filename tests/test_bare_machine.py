"""Without bcftools, tabix and bgzip on PATH: the readers fall back to pysam's htslib, and the
tests' bcftools oracle (`htstools`) to pysam's bcftools. Oracle: `bcftools query` with the tools
present (this process's PATH), a float64 numpy forward pass, and the genotype tests themselves
re-run with the tools hidden."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import ROOT, snakemake_command, venv_env
from oracle import encode_presence, encoder_forward, model_weights, oracle_alleles

pytestmark = pytest.mark.slow
HIDDEN = {"bcftools", "tabix", "bgzip"}
# the bad-input cases of test_failures that reach a genotype file
GENOTYPE_FAILURES = (
    "truncated_bgzip truncated_bcf not_vcf no_index stale_index corrupt_index no_gt_field "
    "duplicate_vcf_samples unknown_samples empty_region tiles_unknown_contig malformed_gt "
    "missing_columns"
).split()


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory) -> dict[str, str]:
    """The test environment with every PATH entry but the htslib tools."""
    env = venv_env()
    shadow = tmp_path_factory.mktemp("bin")
    for folder in env["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = shadow / entry.name
            if entry.name not in HIDDEN and not target.exists():
                target.symlink_to(entry.path)
    env["PATH"] = str(shadow)
    assert subprocess.run(["sh", "-c", "command -v tabix"], env=env).returncode != 0
    return env


def test_example_workflow_without_htslib_tools(tmp_path: Path, example: Path, bare_env) -> None:
    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\noutdir: out\n"
    )
    proc = subprocess.run(
        snakemake_command("--directory", str(tmp_path), "--configfile", "cfg.yaml", "--cores", "2"),
        capture_output=True,
        text=True,
        env=bare_env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("\t") for line in (example / "tiles.tsv").read_text().splitlines()[1:]]
    for tile_id, chrom, _start, _end, model in rows:
        qc = json.loads((tmp_path / "out" / "qc" / f"{tile_id}.json").read_text())
        assert qc["genotype_source"]["reader"] == "text"  # through the pysam stand-in for tabix
        weights, activation, variants = model_weights(example / model)
        region = f"{chrom}:{min(v[0] for v in variants)}-{max(v[0] for v in variants)}"
        names, codes = oracle_alleles(example / "cohort.vcf.gz", region, variants)
        expected = encoder_forward(encode_presence(codes), weights, activation)
        table = pq.read_table(
            tmp_path / "out" / "embeddings" / "layer=latent" / f"{tile_id}.parquet"
        )
        assert table.column("sample_id").to_pylist() == names
        got = np.array(table.column("embedding").to_pylist(), dtype=np.float64)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_genotype_tests_pass_without_htslib_tools(bare_env) -> None:
    """The reader tests (text and BCF readers, bcftools oracle, bad genotype files) with the tools
    hidden: no failure, and nothing skipped."""
    failures = "tests/test_failures.py::test_bad_input_gives_one_clear_error_and_no_output"
    selected = ["tests/test_genotypes.py", *(f"{failures}[{c}]" for c in GENOTYPE_FAILURES)]
    pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    listed = subprocess.run(
        [*pytest_command, "--collect-only", *selected], capture_output=True, text=True, cwd=ROOT
    ).stdout
    n_tests = int(re.search(r"(\d+) tests? collected", listed).group(1))
    proc = subprocess.run(
        [*pytest_command, *selected], capture_output=True, text=True, env=bare_env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.match(rf"{n_tests} passed in ", summary), proc.stdout[-2000:]
