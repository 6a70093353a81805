"""Helpers the tests share: small hand-written VCFs, the venv's environment, snakemake."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from htstools import bgzip, tabix

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "example"


FORMAT_LINES = {
    "GT": '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    "DS": '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">',
    "GP": '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Genotype probabilities">',
}


def write_vcf(
    path: Path,
    records: list[str],
    samples: list[str],
    contig: str = "1",
    extra_header: tuple[str, ...] = (),
    index: bool = True,
    formats: tuple[str, ...] = ("GT", "DS", "GP"),
) -> Path:
    """Write, bgzip and index a small VCF; records are tab-joined lines without the header."""
    header = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={contig},length=100000000>",
        *(FORMAT_LINES[f] for f in formats),
        *extra_header,
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    plain.write_text("\n".join(header + records) + "\n")
    if path.suffix == ".gz":
        bgzip(plain)
        if index:
            tabix(path)
    return path


def venv_env(slurm: bool = False) -> dict[str, str]:
    """The environment with this Python's bin folder first, so `vcf2embed` and tools resolve.

    Unless `slurm`, SLURM's client tools see an empty configuration and fail at once, as on a
    machine without SLURM: Snakemake's SLURM plugin otherwise waits 10 s at start-up for a
    controller that only the SLURM test brings up.
    """
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if not slurm:
        env["SLURM_CONF"] = os.devnull
    return env


def snakemake_command(*args: str) -> list[str]:
    """`python -m snakemake` on the repository's Snakefile."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]


def bundle_copy(src: Path, dst: Path) -> Path:
    """Copy a model folder so a test can change it."""
    shutil.copytree(src, dst)
    return dst


def tile_rows(example: Path) -> list[list[str]]:
    """The example tile table's rows (tile_id, chrom, start, end, model), header left out."""
    return [line.split("\t") for line in (example / "tiles.tsv").read_text().splitlines()[1:]]
