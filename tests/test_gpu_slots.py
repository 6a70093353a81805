"""Each concurrent local embed job gets its own GPU (fake GPU ids on CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vcf2embed.errors import InputError
from vcf2embed.gpu_slots import gpu_slot, parse_slots

HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from vcf2embed.gpu_slots import gpu_slot
    folder = Path(sys.argv[1])
    with gpu_slot(["7", "9"], folder / "locks", poll=0.02) as slot:
        (folder / f"held-{os.getpid()}-{slot}-{os.environ['CUDA_VISIBLE_DEVICES']}").touch()
        while not (folder / "go").exists():
            time.sleep(0.02)
    """
)


def overlapping(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def assert_no_shared_gpu(holds: list[dict]) -> None:
    for i, a in enumerate(holds):
        for b in holds[i + 1 :]:
            if overlapping(a, b):
                assert a["slot"] != b["slot"], (a, b)


def held(folder: Path) -> list[tuple[str, str]]:
    return [tuple(p.name.split("-")[2:]) for p in folder.glob("held-*")]


def test_concurrent_processes_get_distinct_slots(tmp_path: Path) -> None:
    import time

    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)]) for _ in range(3)]
    deadline = time.time() + 60
    while len(held(tmp_path)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # give a third holder the chance to (wrongly) get in
    now = held(tmp_path)
    assert len(now) == 2, now  # two GPUs: the third job waits
    assert {slot for slot, _ in now} == {"7", "9"}
    assert all(slot == env for slot, env in now)  # each job sees only its own GPU
    (tmp_path / "go").touch()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    assert len(held(tmp_path)) == 3  # the third got a GPU once one was free


def test_slot_is_released_and_env_restored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "x")
    with gpu_slot(["3"], tmp_path) as slot:
        assert slot == "3"
    with gpu_slot(["3"], tmp_path, timeout=0.1) as slot:
        assert slot == "3"
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "x"


def test_all_busy_times_out(tmp_path: Path) -> None:
    with gpu_slot(["1"], tmp_path), pytest.raises(InputError, match="no free GPU"):
        with gpu_slot(["1"], tmp_path, timeout=0.2, poll=0.05):
            pass


def test_parse_slots() -> None:
    assert parse_slots("0, 1,3") == ["0", "1", "3"]
    with pytest.raises(InputError):
        parse_slots("0,0")


@pytest.mark.slow
def test_workflow_jobs_take_distinct_gpus(tmp_path: Path, example: Path) -> None:
    from test_workflow import snakemake

    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\n"
        "device: cpu\noutdir: out\ngpu_slots: [7, 9]\ntiles_per_embed_job: 1\n"
    )
    proc = snakemake(tmp_path, "--configfile", "cfg.yaml", "--cores", "2", "--resources", "gpu=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    holds = []
    for qc_file in sorted((tmp_path / "out" / "qc").glob("*.json")):
        qc = json.loads(qc_file.read_text())
        holds.append({"slot": qc["gpu_slot"], "start": qc["started"], "end": qc["finished"]})
    assert len(holds) == 5 and {h["slot"] for h in holds} <= {"7", "9"}
    # several embed jobs, each window around its tile's real work (not a timestamp taken
    # before the work started)
    jobs = list((tmp_path / "out" / ".embed_batches").iterdir())
    assert len(jobs) >= 2, jobs
    assert all(h["end"] - h["start"] > 0.005 for h in holds), holds
    assert_no_shared_gpu(holds)
