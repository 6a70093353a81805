"""Streaming a region out of an htslib command (`tabix`, `bcftools view`), and its errors.

The system's `tabix` and `bcftools` are used when on PATH; without them, the same commands run
through pysam's bundled htslib (`htslib_standin`), so a bare machine reads every VCF and BCF.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import IO

from ...errors import InputError
from ..paths import find_index

CHUNK_BYTES = 1 << 20


def tool_command(tool: str) -> list[str] | None:
    """The command line that runs htslib's `tool`: the system's, else pysam's stand-in, else
    None."""
    if shutil.which(tool) is not None:
        return [tool]
    if find_spec("pysam") is not None:
        return [sys.executable, "-m", "vcf2embed.htslib_standin", tool]
    return None


def run_tool(tool: str, *args: str) -> subprocess.CompletedProcess:
    """Run htslib's `tool` with `args` to the end, capturing its output as bytes."""
    return subprocess.run([*_command(tool), *args], capture_output=True)


def popen_tool(tool: str, *args: str, **kwargs) -> subprocess.Popen:
    """Start htslib's `tool` with `args` (`kwargs` as for `subprocess.Popen`)."""
    return subprocess.Popen([*_command(tool), *args], **kwargs)


def _command(tool: str) -> list[str]:
    """`tool_command`, raising when neither the tool nor pysam is installed."""
    command = tool_command(tool)
    if command is None:
        raise InputError(
            f"reading this file needs the `{tool}` command or pysam; `pip install pysam`"
        )
    return command


def tool_reader_unusable(path: Path, tool: str) -> str | None:
    """Why a reader that streams `path` through htslib's `tool` cannot here (no index, no
    tool), or None."""
    if find_index(path) is None:
        return "the file has no index"
    if tool_command(tool) is None:
        return f"neither the `{tool}` command nor pysam is installed"
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
def htslib_output(tool: str, args: list[str], path: Path, region: str) -> Iterator[IO[bytes]]:
    """The stdout of htslib's `tool` run with `args`, a pipe one chunk deep; raise on leaving
    if it failed.

    stderr goes to a temporary file, so a chatty tool never blocks.
    """
    with tempfile.TemporaryFile() as err_file:
        proc = popen_tool(tool, *args, stdout=subprocess.PIPE, stderr=err_file)
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
