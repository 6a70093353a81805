"""A failed job is retried with more memory: a genotypes job whose `tabix` fails once (a wrapper
first on PATH, as a transient I/O error would) runs again under `--retries 1`. Oracle: the
resources Snakemake prints for each attempt against `job_resources` for that attempt."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import snakemake_command, tile_rows, venv_env
from htstools import bcftools

from vcf2embed import job_resources
from vcf2embed.models import load_model

pytestmark = pytest.mark.slow


def flaky_tabix(folder: Path, marker: Path) -> Path:
    """A `tabix` that fails its first region query, then runs the real one (or the stand-in)."""
    real = shutil.which("tabix")
    run = (
        f'exec "{real}" "$@"'
        if real
        else f'exec "{sys.executable}" -m vcf2embed.htslib_standin tabix "$@"'
    )
    script = folder / "tabix"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *:*-*) if [ ! -e "{marker}" ]; then touch "{marker}"; '
        'echo "tabix: transient failure" >&2; exit 1; fi;; esac\n'
        f"{run}\n"
    )
    script.chmod(0o755)
    return folder


def test_a_failed_genotypes_job_is_retried_with_more_memory(example: Path, tmp_path: Path) -> None:
    row = tile_rows(example)[0]
    model = example / row[4]
    (tmp_path / "tiles.tsv").write_text(
        "tile_id\tchrom\tstart\tend\tmodel\n" + "\t".join([*row[:4], str(model)]) + "\n"
    )
    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: tiles.tsv\ndevice: cpu\n"
    )
    marker = tmp_path / "failed-once"
    (tmp_path / "bin").mkdir()
    bin_dir = flaky_tabix(tmp_path / "bin", marker)
    env = venv_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        snakemake_command(
            "--directory",
            str(tmp_path),
            "--configfile",
            "cfg.yaml",
            "--cores",
            "2",
            "--retries",
            "1",
            "--until",
            "genotypes",
        ),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert marker.exists() and "tabix: transient failure" in log  # attempt 1 did fail
    assert (tmp_path / "results" / "genotypes" / "tile01.npz").exists()
    asked = [int(m) for m in re.findall(r"resources: .*?\bmem_mb=(\d+)", log)]
    samples = len(bcftools("query", "-l", example / "cohort.vcf.gz").split())
    variants = len(load_model(model).variants)
    expected = [job_resources.genotypes_mem_mb(samples, variants, False, k) for k in (1, 2)]
    assert asked == expected and expected[1] > expected[0]
