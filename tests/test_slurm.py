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
from helpers import snakemake_command, venv_env

from vcf2embed.batches import embed_batches
from vcf2embed.parquet import read_embeddings, read_metadata

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
        "--group-components",
        "genotypes_batch=3",
        "embed_batch=3",
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "sbatch" in proc.stdout or "submitted with SLURM jobid" in proc.stdout

    rows = subprocess.run(
        ["squeue", "-t", "all", "-h", "-o", "%i|%P|%T|%k"], capture_output=True, text=True
    ).stdout.splitlines()
    jobs = [r.split("|") for r in rows if int(r.split("|")[0]) not in before]
    # 5 tiles, genotypes in groups of 3: 2 jobs; the embed batches (by tile ID) in groups of 3;
    # the summary and the report: 1 job each; publishing runs on the submitting host
    tile_ids = [
        line.split("\t")[0] for line in (example / "tiles.tsv").read_text().splitlines()[1:]
    ]
    embed_jobs = -(-len(embed_batches(tile_ids, 2)) // 3)
    assert len(jobs) == 2 + embed_jobs + 2, jobs
    assert all(state == "COMPLETED" for _, _, state, _ in jobs), jobs
    embed_partitions = {part for _, part, _, comment in jobs if "embed" in comment}
    other_partitions = {part for _, part, _, comment in jobs if "embed" not in comment}
    assert embed_partitions == {"gpu"} and other_partitions == {"cpu"}

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
