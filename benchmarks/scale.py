"""Biobank scale: the whole default workflow on simulated imputed cohorts of N samples.

    python benchmarks/scale.py [--samples 50000 200000 500000] [--no-results]

For each N: an msprime cohort over a short region (`benchmarks/imputed.py`, cached): GT-only,
`GT:DS:GP` and BCF files; a lab-format model (`NAME.pth`, `NAME_param.py`, `NAME.pos`) over all of
the tile's variants, with random weights (the figures are about time and memory, not about what a
model learned); then the default workflow (schema defaults, the report coloured by population)
run by Snakemake with `--cores 2` on the `GT:DS:GP` file. Per step it prints wall time and peak
RSS (from each job's own log line) and the bytes written; beside them, timed in the same run,
`bcftools view -Ou -r` over the tile's region of each input file and `vcf2embed genotypes` on the
same file, as genotypes per second. Writes the table into benchmarks/RESULTS.md ("Scale").
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from imputed import make_imputed  # noqa: E402
from results_md import write_section  # noqa: E402

BIN = Path(sys.executable).parent
REGION_LENGTH = 25_000
DONE = re.compile(r"INFO vcf2embed: (\w+) done in ([0-9.]+) s, peak memory ([0-9.]+) MB")


def env() -> dict[str, str]:
    import os

    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "SLURM_CONF": "/dev/null",
    }


def sites(vcf: Path) -> list[tuple[int, str, str]]:
    """(pos, ref, alt) of every record, by bcftools."""
    out = subprocess.run(
        ["bcftools", "query", "-f", "%POS\t%REF\t%ALT\n", str(vcf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(int(p), r, a) for p, r, a in (line.split("\t") for line in out.splitlines())]


def lab_model(folder: Path, rows: list[tuple[int, str, str]]) -> Path:
    """A lab-format model over `rows`: NAME.pth, NAME_param.py and NAME.pos."""
    import torch

    from vcf2embed.architectures import LabAutoencoder

    folder.mkdir(parents=True, exist_ok=True)
    width = 2 * len(rows)
    torch.manual_seed(0)
    model = LabAutoencoder(width, width, 4, 0.5)
    torch.save(model.state_dict(), folder / "tile.pth")
    (folder / "tile_param.py").write_text(
        f"n_layers = 4\nsize_ratio = 0.5\nactivation = 'relu'\nni = {width}\nno = {width}\n"
    )
    (folder / "tile.pos").write_text(
        "#CHROM\tPOS\tID\tREF\tALT\n" + "".join(f"22\t{p}\t.\t{r}\t{a}\n" for p, r, a in rows)
    )
    return folder / "tile.pth"


def timed(cmd: list[str]) -> float:
    """Wall seconds of a command (output discarded)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env())
    return time.perf_counter() - start


def read_rates(folder: Path, work: Path, tiles: Path, n: int, n_var: int) -> list[tuple]:
    """(file, bcftools s, vcf2embed s, field) for each input file, timed side by side."""
    region = "22:1-100000000"
    rows = []
    for name, field in (
        ("imputed.vcf.gz", "GT"),
        ("imputed.vcf.gz", "DS"),
        ("gt.vcf.gz", "GT"),
        ("gt.bcf", "GT"),
    ):
        path = folder / name
        ours = [
            BIN / "vcf2embed",
            "-q",
            "genotypes",
            "--vcf",
            str(path),
            "--tiles",
            str(tiles),
            "--tile",
            "tile",
            "--genotype-field",
            field,
            "--out",
            str(work / "read.npz"),
        ]
        theirs = ["bcftools", "view", "-Ou", "-r", region, str(path)]
        t_bcftools, t_ours = timed(theirs), timed(ours)
        rows.append((name, field, t_bcftools, t_ours, n * n_var))
    return rows


def job_figures(results: Path) -> dict[str, tuple[float, float]]:
    """Per step: (wall seconds, peak RSS MB) of its jobs (summed time, largest RSS)."""
    steps: dict[str, tuple[float, float]] = {}
    for log in sorted((results / "logs").rglob("*.log")):
        for match in DONE.finditer(log.read_text(errors="replace")):
            step, secs, mb = match.group(1), float(match.group(2)), float(match.group(3))
            t, m = steps.get(step, (0.0, 0.0))
            steps[step] = (t + secs, max(m, mb))
    return steps


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def run_workflow(folder: Path, work: Path, tiles: Path, n: int) -> tuple[float, Path]:
    """The default workflow on the imputed file; returns its wall time and results folder."""
    config = work / "config.yaml"
    config.write_text(
        f"vcf: {folder / 'imputed.vcf.gz'}\ntiles: {tiles}\n"
        f"sample_metadata: {folder / 'samples.tsv'}\ncolor_by: population\ndevice: cpu\n"
    )
    cmd = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(config),
        "--cores",
        "2",
        "--directory",
        str(work),
        "--forceall",
        "--quiet",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"workflow failed at N = {n}:\n{proc.stderr[-3000:]}")
    return took, work / "results"


def one_scale(n: int) -> dict:
    """Every figure of one cohort size."""
    folder = make_imputed(n, REGION_LENGTH)
    work = folder / "work"
    work.mkdir(exist_ok=True)
    rows = sites(folder / "imputed.vcf.gz")
    model = lab_model(work / "model", rows)
    tiles = work / "tiles.tsv"
    tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\ntile\t22\t1\t{REGION_LENGTH}\t{model}\n")
    wall, results = run_workflow(folder, work, tiles, n)
    figures = {
        "n": n,
        "variants": len(rows),
        "wall": wall,
        "steps": job_figures(results),
        "bytes": {
            "input imputed.vcf.gz": (folder / "imputed.vcf.gz").stat().st_size,
            "genotypes/": folder_bytes(results / "genotypes"),
            "embeddings/": folder_bytes(results / "embeddings"),
            "report/": folder_bytes(results / "report"),
        },
        "reads": read_rates(folder, work, tiles, n, len(rows)),
    }
    return figures


def table(all_figures: list[dict]) -> list[str]:
    """The Markdown lines of the scale table."""
    lines = [
        "| samples | variants | step | wall s | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for f in all_figures:
        lines.append(f"| {f['n']:,} | {f['variants']} | whole workflow | {f['wall']:.1f} | |")
        for step, (secs, mb) in sorted(f["steps"].items()):
            lines.append(f"| {f['n']:,} | {f['variants']} | {step} | {secs:.1f} | {mb:.0f} |")
    lines += [
        "",
        "| samples | bytes: " + " | ".join(all_figures[0]["bytes"]) + " |",
        "|---|" + "---|" * len(all_figures[0]["bytes"]),
    ]
    for f in all_figures:
        lines.append(
            f"| {f['n']:,} | " + " | ".join(f"{b / 1e6:.1f} MB" for b in f["bytes"].values()) + " |"
        )
    lines += [
        "",
        "| samples | file | field | bcftools view -Ou -r | vcf2embed genotypes | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for f in all_figures:
        for name, field, tb, to, calls in f["reads"]:
            lines.append(
                f"| {f['n']:,} | {name} | {field} | {calls / tb / 1e6:.1f} M/s | "
                f"{calls / to / 1e6:.1f} M/s | {tb / to:.2f}x |"
            )
    return lines


def growth(all_figures: list[dict]) -> list[str]:
    """Per-sample time and memory from the smallest to the largest cohort."""
    if len(all_figures) < 2:
        return []
    a, b = all_figures[0], all_figures[-1]
    scale = b["n"] / a["n"]
    lines = [f"Growth from {a['n']:,} to {b['n']:,} samples ({scale:.0f}x):", ""]
    for step in sorted(set(a["steps"]) & set(b["steps"])):
        (ta, ma), (tb, mb) = a["steps"][step], b["steps"][step]
        lines.append(f"- {step}: time x{tb / ta:.1f}, peak RSS x{mb / ma:.1f}")
    lines.append(f"- whole workflow: time x{b['wall'] / a['wall']:.1f}")
    return lines


def write_results(lines: list[str]) -> None:
    write_section("Scale", "scale.py", lines, "this machine (2 cores, 24 GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, nargs="+", default=[50_000, 200_000, 500_000])
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    all_figures = []
    for n in args.samples:
        figures = one_scale(n)
        all_figures.append(figures)
        print("\n".join(table([figures])), flush=True)
    lines = table(all_figures) + [""] + growth(all_figures)
    print("\n".join(lines))
    if not args.no_results:
        write_results(lines)


if __name__ == "__main__":
    main()
