"""The helper thread that converts records beside a format's reads."""

from __future__ import annotations

import threading

import pytest

from vcf2embed.genotypes.helper_thread import AHEAD, HelperThread


@pytest.mark.parametrize("threads", [1, 2])
def test_calls_run_in_order_and_finish_before_exit(threads: int) -> None:
    done: list[int] = []
    names: set[str] = set()

    def work(k: int) -> None:
        names.add(threading.current_thread().name)
        done.append(k)

    with HelperThread(threads) as helper:
        for k in range(50):
            helper.submit(work, k)
    assert done == list(range(50))
    assert (threading.current_thread().name in names) == (threads < 2)


def test_a_helper_error_reaches_the_caller_and_stops_it() -> None:
    submitted: list[int] = []

    def work(k: int) -> None:
        if k == 3:
            raise ValueError("block 3 is damaged")

    with pytest.raises(ValueError, match="block 3 is damaged"):
        with HelperThread(2) as helper:
            for k in range(100):
                helper.submit(work, k)
                submitted.append(k)
    assert len(submitted) <= 3 + AHEAD + 1  # raised while waiting, not after every block


def test_a_caller_error_drops_the_calls_not_started() -> None:
    started, gate, ran = threading.Event(), threading.Event(), []

    def work(k: int) -> None:
        started.set()
        gate.wait(5)
        ran.append(k)

    opened = threading.Timer(0.3, gate.set)  # lets the running call end after the caller fails
    with pytest.raises(RuntimeError, match="reader failed"):
        with HelperThread(2) as helper:
            for k in range(AHEAD):
                helper.submit(work, k)
            started.wait(5)
            opened.start()
            raise RuntimeError("reader failed")
    assert ran == [0]  # the running call ends; the waiting ones never start
