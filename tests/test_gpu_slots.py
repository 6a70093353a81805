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
    import json, os, sys, time
    from vcf2embed.gpu_slots import gpu_slot
    with gpu_slot(["7", "9"], sys.argv[1], poll=0.05) as slot:
        start = time.time()
        env = os.environ["CUDA_VISIBLE_DEVICES"]
        time.sleep(0.6)
        print(json.dumps({"slot": slot, "env": env, "start": start, "end": time.time()}))
    """
)


def overlapping(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def assert_no_shared_gpu(holds: list[dict]) -> None:
    for i, a in enumerate(holds):
        for b in holds[i + 1 :]:
            if overlapping(a, b):
                assert a["slot"] != b["slot"], (a, b)


def test_concurrent_processes_get_distinct_slots(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    holds = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(h["slot"] == h["env"] for h in holds)
    assert {h["slot"] for h in holds} == {"7", "9"}
    assert_no_shared_gpu(holds)
    # never more than two at once
    for h in holds:
        assert sum(overlapping(h, o) for o in holds) <= 2


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
        "device: cpu\noutdir: out\ngpu_slots: [7, 9]\n"
    )
    proc = snakemake(tmp_path, "--configfile", "cfg.yaml", "--cores", "2", "--resources", "gpu=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    holds = []
    for qc_file in sorted((tmp_path / "out" / "qc").glob("*.json")):
        qc = json.loads(qc_file.read_text())
        holds.append({"slot": qc["gpu_slot"], "start": qc["started"], "end": qc["finished"]})
    assert len(holds) == 5 and {h["slot"] for h in holds} <= {"7", "9"}
    assert_no_shared_gpu(holds)
