"""Dry run of the workflow over 10,000 tiles: how long Snakemake takes to plan a large run.

    python benchmarks/dag_10k.py [--tiles 1000 10000] [--no-results]

Every tile points at one example model, so no model files need generating. Prints the planning
time of a local dry run and of a SLURM-profile dry run (nothing is submitted) for each table
size, and writes them into benchmarks/RESULTS.md ("Planning a large run").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_md import write_section  # noqa: E402

EXAMPLE = ROOT / "resources" / "example"


def dry_run(workdir: Path, *extra: str) -> tuple[float, str]:
    """Seconds for `snakemake -n` and its last lines."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "-n",
            "--quiet",
            "rules",
            "--configfile",
            "cfg.yaml",
            *extra,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return elapsed, (proc.stdout + proc.stderr).strip().splitlines()[-1]


def plan(tiles: int) -> tuple[float, float]:
    """Seconds of the local and the SLURM-profile dry run over `tiles` tiles."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = EXAMPLE / "models" / "tile02"
        rows = ["tile_id\tchrom\tstart\tend\tmodel"]
        rows += [f"t{i:05d}\t22\t{17_300_001 + i}\t{17_520_000 + i}\t{model}" for i in range(tiles)]
        (work / "tiles.tsv").write_text("\n".join(rows) + "\n")
        (work / "cfg.yaml").write_text(
            f"vcf: {EXAMPLE / 'cohort.vcf.gz'}\ntiles: tiles.tsv\noutdir: out\n"
        )
        local, summary = dry_run(work, "--cores", "16")
        print(f"{tiles} tiles, local dry run: {local:.1f} s ({summary})", flush=True)
        profile = str(ROOT / "workflow" / "profiles" / "slurm")
        slurm, summary = dry_run(work, "--workflow-profile", profile, "--slurm-no-account")
        print(f"{tiles} tiles, SLURM-profile dry run: {slurm:.1f} s ({summary})", flush=True)
    return local, slurm


def main() -> None:
    """Write the big tile tables, time the dry runs, and write the RESULTS.md section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    lines = [
        f"Snakemake {version('snakemake')}, snakemake-executor-plugin-slurm "
        f"{version('snakemake-executor-plugin-slurm')}.",
        "",
        "| tiles | local dry run | SLURM-profile dry run (grouped) |",
        "|---|---|---|",
    ]
    for tiles in args.tiles:
        local, slurm = plan(tiles)
        lines.append(f"| {tiles:,} | {local:.1f} s | {slurm:.1f} s |")
    if not args.no_results:
        write_section("Planning a large run", "dag_10k.py", lines, "2 cores")


if __name__ == "__main__":
    main()
