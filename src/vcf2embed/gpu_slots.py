"""Giving each concurrent local embed job its own GPU.

Snakemake does not set CUDA_VISIBLE_DEVICES for local jobs; with `--resources gpu=K` up to K
embed jobs run at once, and each takes the first free slot from a shared list by holding an
exclusive `flock` on `<lock_dir>/gpu-<id>.lock`. The kernel drops the lock when the process ends,
so a killed job never keeps a GPU.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


def parse_slots(text: str) -> list[str]:
    """Parse `0,1,3` into GPU ids."""
    slots = [s.strip() for s in text.split(",") if s.strip()]
    if not slots or len(set(slots)) != len(slots):
        raise InputError(f"gpu slots {text!r}: give distinct GPU ids separated by commas, e.g. 0,1")
    return slots


@contextlib.contextmanager
def gpu_slot(
    slots: list[str], lock_dir: str | Path, timeout: float = 3600.0, poll: float = 0.2
) -> Iterator[str]:
    """Hold the first free GPU slot and expose only it through CUDA_VISIBLE_DEVICES."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        for slot in slots:
            fh = open(lock_dir / f"gpu-{slot}.lock", "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            previous = os.environ.get("CUDA_VISIBLE_DEVICES")
            os.environ["CUDA_VISIBLE_DEVICES"] = slot
            try:
                yield slot
            finally:
                if previous is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = previous
                fcntl.flock(fh, fcntl.LOCK_UN)
                fh.close()
            return
        if time.monotonic() > deadline:
            raise InputError(
                f"no free GPU among {', '.join(slots)} after {timeout:.0f} s; run with "
                f"--resources gpu=K where K is at most the number of gpu_slots"
            )
        time.sleep(poll)
