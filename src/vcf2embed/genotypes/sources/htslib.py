"""Streaming a region out of an htslib command (`tabix`, `bcftools view`), and its errors."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ...errors import InputError
from ..paths import find_index

CHUNK_BYTES = 1 << 20


def tool_reader_unusable(path: Path, tool: str) -> str | None:
    """Why a reader that streams `path` through htslib's `tool` cannot here (no index, no
    tool), or None."""
    if find_index(path) is None:
        return "the file has no index"
    if shutil.which(tool) is None:
        return f"the `{tool}` command is not installed"
    return None


def htslib_problem(path: Path, err: str, region: str | None = None) -> str:
    """One line saying what htslib found wrong with a file."""
    first = next((line.strip() for line in err.splitlines() if line.strip()), "no message")
    where = f" while reading {region}" if region else ""
    bcf = path.name.endswith(".bcf")
    if "bgzf" in err.lower() or "truncated" in err.lower():
        rewrite = "rewrite it with `bcftools view -Ob`" if bcf else "re-compress it with bgzip"
        return (
            f"{path}: truncated or damaged bgzip data{where}; re-download the file or "
            f"{rewrite} (htslib: {first})"
        )
    if "index" in err.lower():
        reindex = f"bcftools index -f {path}" if bcf else f"tabix -f -p vcf {path}"
        return (
            f"{path}: its index cannot be read{where}; re-index with `{reindex}` (htslib: {first})"
        )
    return f"{path}: cannot be read as {'BCF' if bcf else 'VCF'}{where} (htslib: {first})"


def _widen_pipe(stream) -> None:
    """Let the writer run a whole chunk ahead of the reader (Linux; elsewhere a no-op)."""
    try:
        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), CHUNK_BYTES)
    except OSError:  # above /proc/sys/fs/pipe-max-size: keep the default
        pass


@contextlib.contextmanager
def htslib_output(cmd: list[str], path: Path, region: str) -> Iterator[IO[bytes]]:
    """The stdout of an htslib command, a pipe one chunk deep; raise on leaving if it failed.

    stderr goes to a temporary file, so a chatty tool never blocks.
    """
    with tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file)
        assert proc.stdout is not None
        _widen_pipe(proc.stdout)
        try:
            yield proc.stdout
        finally:
            proc.stdout.close()
            code = proc.wait()
            err_file.seek(0)
            err = err_file.read().decode(errors="replace").strip()
    if code != 0 or "[E::" in err:
        raise InputError(htslib_problem(path, err or f"exit code {code}", region))
