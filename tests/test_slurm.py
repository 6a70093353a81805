"""The bundled example through the SLURM profile on a real single-node SLURM cluster.

The cluster is started by tests/slurm/cluster.sh (CI installs slurm-wlm and munge). Without
SLURM on the machine the test is skipped, unless VCF2EMBED_REQUIRE_SLURM=1 (as in CI), where
that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import snakemake_command, tile_rows, venv_env

from vcf2embed.job_resources import embed_mem_mb, genotypes_mem_mb
from vcf2embed.parquet import read_embeddings, read_metadata
from vcf2embed.variants import load_variants

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
pytestmark = [pytest.mark.slow, pytest.mark.slurm]


def cluster_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return proc.returncode == 0 and any(s in proc.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def cluster():
    started = False
    if not cluster_up():
        if not shutil.which("slurmctld") or os.geteuid() != 0:
            if os.environ.get("VCF2EMBED_REQUIRE_SLURM"):
                pytest.fail(
                    "SLURM is required (VCF2EMBED_REQUIRE_SLURM) but slurmctld is not installed or not root"
                )
            pytest.skip("no SLURM on this machine: run tests/slurm/cluster.sh install (as root)")
        subprocess.run([str(CLUSTER), "start"], check=True, capture_output=True, text=True)
        started = True
    yield
    if started:
        subprocess.run([str(CLUSTER), "stop"], check=False)


def job_ids() -> set[int]:
    out = subprocess.run(
        ["squeue", "-t", "all", "-h", "-o", "%i"], capture_output=True, text=True
    ).stdout
    return {int(x) for x in out.split()}


def cancel_own_jobs(before: set[int]) -> None:
    """Cancel the jobs submitted since `before` was taken: this test's, never anyone else's."""
    own = sorted(job_ids() - before)
    if own:
        subprocess.run(["scancel", *map(str, own)], check=False)


def run_snakemake(workdir: Path, *args: str, timeout: int = 480) -> subprocess.CompletedProcess:
    before = job_ids()
    proc = subprocess.Popen(
        snakemake_command(*args),
        cwd=workdir,
        env=venv_env(slurm=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # snakemake waits for submitted jobs on SIGTERM: kill it, then cancel its jobs
        os.killpg(proc.pid, signal.SIGKILL)
        cancel_own_jobs(before)
        out, _ = proc.communicate()
        pytest.fail(f"snakemake timed out:\n{out[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def test_example_through_slurm_profile(cluster, tmp_path: Path, example: Path) -> None:
    config = (
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\n"
        "device: cpu\noutdir: out\nlayers: ['encoder.0']\ntiles_per_embed_job: 2\n"
    )
    (tmp_path / "slurm").mkdir()
    (tmp_path / "local").mkdir()
    for sub in ("slurm", "local"):
        (tmp_path / sub / "cfg.yaml").write_text(config)
    before = job_ids()
    proc = run_snakemake(
        tmp_path / "slurm",
        "--workflow-profile",
        str(ROOT / "workflow" / "profiles" / "slurm"),
        "--configfile",
        "cfg.yaml",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "2",
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "sbatch" in proc.stdout or "submitted with SLURM jobid" in proc.stdout

    rows = subprocess.run(
        ["squeue", "-t", "all", "-h", "-o", "%i|%P|%T|%k|%b|%m"], capture_output=True, text=True
    ).stdout.splitlines()
    jobs = [r.split("|") for r in rows if int(r.split("|")[0]) not in before]
    # the profile's own grouping (25 tiles of a rule per job): the 5 genotypes jobs in one SLURM
    # job, the embed batches in one; the summary and the report one each; publishing runs on
    # the submitting host
    assert len(jobs) == 4, jobs
    assert all(state == "COMPLETED" for _, _, state, *_ in jobs), jobs
    embed = [job for job in jobs if "embed" in job[3]]
    genotypes = [job for job in jobs if "genotypes" in job[3]]
    assert len(embed) == 1 and len(genotypes) == 1, jobs
    assert {job[1] for job in jobs} - {embed[0][1]} == {"cpu"} and embed[0][1] == "gpu"
    # the GPU: one per embed job, none elsewhere
    assert embed[0][4].endswith("gpu:1"), embed
    assert all("gpu" not in job[4] for job in jobs if job is not embed[0]), jobs
    # memory from samples x variants (job_resources), attempt 1
    widest = max(len(load_variants(example / t[4], t[1])) for t in tile_rows(example))
    assert _megabytes(embed[0][5]) >= embed_mem_mb(330, widest, False)
    assert _megabytes(genotypes[0][5]) >= genotypes_mem_mb(330, widest, False)
    assert _megabytes(embed[0][5]) > _megabytes(genotypes[0][5])

    local = run_snakemake(tmp_path / "local", "--configfile", "cfg.yaml", "--cores", "2")
    assert local.returncode == 0, local.stdout[-3000:]
    for layer in ("latent", "encoder.0"):
        files = sorted(
            (tmp_path / "local" / "out" / "embeddings" / f"layer={layer}").glob("*.parquet")
        )
        assert len(files) == 5
        for f in files:
            other = tmp_path / "slurm" / "out" / "embeddings" / f"layer={layer}" / f.name
            s1, v1 = read_embeddings(f)
            s2, v2 = read_embeddings(other)
            assert s1 == s2
            np.testing.assert_array_equal(v1, v2)
            m1, m2 = read_metadata(f), read_metadata(other)
            assert {k: v for k, v in m1.items() if k != "config"} == {
                k: v for k, v in m2.items() if k != "config"
            }


def _megabytes(squeue_memory: str) -> float:
    """squeue's %m (`900M`, `2G`) in MB."""
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    return float(squeue_memory[:-1]) * scale[squeue_memory[-1]]
