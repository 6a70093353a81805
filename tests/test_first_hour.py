"""A new user's first hour: clear advice for common mistakes, no silent choices, readable files.
Oracles: the files and messages themselves (gzip's own magic bytes, os.stat, argparse's help)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_vcf

from vcf2embed.errors import InputError
from vcf2embed.genotypes import read_samples_file, read_tile_genotypes
from vcf2embed.tiles import Tile
from vcf2embed.variants import VariantList

VARIANTS = VariantList(("1",), __import__("numpy").array([100]), ("A",), ("G",), "test")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vcf2embed.cli", *args], capture_output=True, text=True
    )


def test_plain_gzip_vcf_gets_bgzip_advice(tmp_path: Path) -> None:
    plain = write_vcf(tmp_path / "p.vcf", ["1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1"], ["s"])
    gz = tmp_path / "p.vcf.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(InputError, match=r"gzip, not bgzip.*\| bgzip >.*tabix -p vcf"):
        read_tile_genotypes(gz, Tile("t", "1", 1, 200, None), VARIANTS)
    with pytest.raises(InputError, match="compress it with `bgzip"):
        read_tile_genotypes(plain, Tile("t", "1", 1, 200, None), VARIANTS)


def test_keep_files_and_header_lines(tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("0\tAFR0001\n0\tAFR0002\n0\tEUR0001\n")  # PLINK --keep: FID IID
    assert read_samples_file(keep) == ["AFR0001", "AFR0002", "EUR0001"]
    keep.write_text("#FID\tIID\n7\tA\n7\tB\n")
    assert read_samples_file(keep) == ["A", "B"]
    listed = tmp_path / "ids.txt"
    listed.write_text("sample_id\nA\nB\n")
    assert read_samples_file(listed) == ["A", "B"]
    listed.write_text("A\nB\nA\n")
    with pytest.raises(InputError, match="line 3: sample 'A' is listed twice"):
        read_samples_file(listed)


def test_color_by_without_a_table_is_an_error(tmp_path: Path) -> None:
    proc = cli("report", "x.json", "--color-by", "population", "--out", str(tmp_path))
    assert proc.returncode != 0 and "needs --sample-metadata" in proc.stderr


def test_model_files_are_readable_by_lab_mates(tmp_path: Path, example: Path) -> None:
    proc = cli("convert", str(example / "models" / "tile01" / "tile01.pth"), str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr
    umask = os.umask(0)
    os.umask(umask)
    for path in (tmp_path / "b").iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_help_shows_defaults() -> None:
    out = cli("genotypes", "--help").stdout
    assert "(default: 0.8)" in out and "(default: auto)" in out


def test_model_outside_its_tile_is_warned(tmp_path: Path, example: Path) -> None:
    vcf = example / "cohort.vcf.gz"
    tiles = tmp_path / "tiles.tsv"
    tiles.write_text(
        "tile_id\tchrom\tstart\tend\tmodel\n"
        f"far\t22\t30000001\t30100000\t{example / 'models' / 'tile02'}\n"
    )
    proc = cli(
        "genotypes",
        "--vcf",
        str(vcf),
        "--tiles",
        str(tiles),
        "--tile",
        "far",
        "--out",
        str(tmp_path / "g.npz"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "its model's variants lie in 22:17" in proc.stderr


def snakemake_in(work: Path, example: Path, extra: str, *args: str) -> subprocess.CompletedProcess:
    """The workflow on the example with `extra` config lines, in `work`."""
    from test_workflow import snakemake

    (work / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\ndevice: cpu\n" + extra
    )
    return snakemake(work, "--configfile", "cfg.yaml", "--cores", "2", *args)


@pytest.mark.slow
def test_misspelled_key_is_one_short_message(tmp_path: Path, example: Path) -> None:
    proc = snakemake_in(tmp_path, example, "colour_by: population\n", "-n")
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) <= 5, lines
    assert "did you mean `color_by`" in proc.stdout + proc.stderr


def cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.slow
def test_plan_time_checks_run_before_any_job(tmp_path: Path, example: Path) -> None:
    for extra, message in (
        ("layers: ['encoder.99']\n", "encoder.99"),
        ("report_samples: [nobody]\n", "not among the run's samples: nobody"),
        (
            f"sample_metadata: {example / 'samples.tsv'}\ncolor_by: continent\n",
            "needs columns sample_id and continent",
        ),
        *([] if cuda_present() else [("device: cuda\n", "no CUDA device")]),
    ):
        proc = snakemake_in(tmp_path, example, extra)
        assert proc.returncode != 0 and message in proc.stdout + proc.stderr, proc.stderr[-2000:]
        assert not (tmp_path / "results").exists()  # no job ran


@pytest.mark.slow
def test_a_failing_jobs_error_reaches_the_console(tmp_path: Path, example: Path) -> None:
    (tmp_path / "s.txt").write_text("AFR0001\nnobody\n")
    proc = snakemake_in(tmp_path, example, f"samples: {tmp_path / 's.txt'}\n")
    assert proc.returncode != 0
    assert "sample(s) of the samples file are not in" in proc.stdout + proc.stderr
