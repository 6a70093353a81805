"""Work handed to one helper thread, run in order beside the thread that reads: a format's
library reads the next block (releasing the GIL) while numpy converts the one before."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

AHEAD = 2  # blocks read but not yet converted: bounds the memory they hold


class HelperThread:
    """Calls run in the order given on one helper thread, or at once in the caller when
    `threads` is below 2; an exception raised there is raised in the caller."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(1, "vcf2embed-convert") if threads > 1 else None
        self._pending: deque[Future] = deque()

    def submit(self, fn: Callable[..., None], *args) -> None:
        """Run `fn(*args)` after the calls before it; wait while `AHEAD` others wait."""
        if self._pool is None:
            fn(*args)
            return
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > AHEAD:
            self._pending.popleft().result()

    def __enter__(self) -> HelperThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Finish every call (or, when the caller failed, drop those not started)."""
        if self._pool is None:
            return
        try:
            while self._pending and exc_type is None:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
