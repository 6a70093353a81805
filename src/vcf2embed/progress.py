"""Progress of long work: a bar in a terminal, plain log lines in log files."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("vcf2embed.progress")


def track(
    items: Iterable[T],
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    every: float = 30.0,
) -> Iterator[T]:
    """Yield `items`, showing a tqdm bar on a terminal or logging a line every `every` seconds."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False)
        return
    start = last = time.monotonic()
    n = 0
    for n, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last >= every:
            last = now
            of = f"/{total}" if total else ""
            log.info("%s: %d%s %s (%.0f %s/s)", desc, n, of, unit, n / (now - start), unit)
    if n and time.monotonic() - start >= every:
        log.info("%s: done, %d %s in %.0f s", desc, n, unit, time.monotonic() - start)
