"""`vcf2embed check` on a 1,000-tile table over an indexed BCF (target: <= 60 s).

The bundled example cohort is written as a BCF; the table repeats its five tile models across
1,000 tiles (distinct IDs, the models' own regions), as a genome-wide tile list sharing a few
architectures would. Prints the command's wall time (start-up included) and writes the
"Pre-flight check" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
from htstools import bcftools  # noqa: E402
from results_md import write_section  # noqa: E402

EXAMPLE = ROOT / "resources" / "example"


def build(folder: Path, n_tiles: int) -> Path:
    """A BCF of the example cohort, a tile table of `n_tiles` rows and the config; the config."""
    bcf = folder / "cohort.bcf"
    bcftools("view", "-Ob", "-o", bcf, EXAMPLE / "cohort.vcf.gz")
    bcftools("index", "-c", bcf)
    rows = EXAMPLE.joinpath("tiles.tsv").read_text().splitlines()[1:]
    lines = ["tile_id\tchrom\tstart\tend\tmodel"]
    for k in range(n_tiles):
        _, chrom, start, end, model = rows[k % len(rows)].split("\t")
        lines.append(f"t{k:04d}\t{chrom}\t{start}\t{end}\t{EXAMPLE / model}")
    (folder / "tiles.tsv").write_text("\n".join(lines) + "\n")
    config = folder / "cfg.yaml"
    config.write_text(f"vcf: {bcf}\ntiles: {folder / 'tiles.tsv'}\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=1000)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = build(Path(tmp), args.tiles)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "vcf2embed", "-q", "check", "--configfile", str(config)],
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(proc.stdout[-2000:] + proc.stderr[-2000:])
    line = f"- {args.tiles:,} tiles on an indexed BCF: {took:.1f} s (target <= 60 s)"
    print(line)
    if not args.no_results:
        write_section("Pre-flight check", "check.py", [line], "this machine (2 cores, 24 GB)")


if __name__ == "__main__":
    main()
