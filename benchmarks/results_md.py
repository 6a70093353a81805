"""Writing one script's section of benchmarks/RESULTS.md, headed by the commit and the date."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def commit() -> str:
    """The short commit of the working tree, marked `+changes` when it differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "src", "benchmarks"]
        + [":!benchmarks/RESULTS.md"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return f"{head}+changes" if dirty else head


def write_section(title: str, script: str, lines: list[str], machine: str) -> None:
    """Replace (or append) the section `## {title} (benchmarks/{script})` with `lines`."""
    heading = f"## {title} (benchmarks/{script})"
    body = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = "\n".join(
        [heading, "", f"Commit {commit()}, {time.strftime('%Y-%m-%d')}, {machine}.", "", *lines, ""]
    )
    pattern = re.compile(re.escape(heading) + r".*?(?=\n## |\Z)", re.S)
    if pattern.search(body):
        body = pattern.sub(lambda _: section, body)
    else:
        body = body.rstrip() + "\n\n" + section
    RESULTS.write_text(body)
