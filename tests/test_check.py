"""`vcf2embed check`: the plan on the example, and one table naming every problem of a broken
config. Oracles: the tile table itself, `bcftools query` (the sites each model's variants have
in the file) and the genotypes step's own QC on the same tiles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import bundle_copy, tile_rows, venv_env
from htstools import bcftools, tabix

from vcf2embed.genotypes import read_tile_genotypes
from vcf2embed.tiles import read_tiles
from vcf2embed.variants import load_variants

CHECK = [sys.executable, "-m", "vcf2embed", "check"]


def check(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CHECK, "--configfile", "cfg.yaml", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=venv_env(),
    )


def test_example_plan(tmp_path: Path, example: Path) -> None:
    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\n"
    )
    proc = check(tmp_path, "--all")
    assert proc.returncode == 0, proc.stderr
    rows = tile_rows(example)
    assert f"tiles: {len(rows)} with a model" in proc.stdout
    assert f"jobs: {len(rows)} genotypes, 1 embed" in proc.stdout
    assert f"readers: text x{len(rows)}" in proc.stdout
    listed = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[7:]}
    for tile_id, *_ in rows:
        assert listed[tile_id][1:3] == ["text", "22"]
        assert listed[tile_id][4] == "100%"  # the example's models were trained on its sites
    assert "problems" not in proc.stdout


def _broken_inputs(tmp_path: Path, example: Path) -> dict[str, str]:
    """Per-tile VCFs and models, each broken in one way; tile ID -> what the check must say."""
    cohort = example / "cohort.vcf.gz"
    rows = {r[0]: r for r in tile_rows(example)}
    for tile_id in ("tile01", "tile02", "tile03", "tile04"):
        bcftools("view", "-r", f"22:{rows[tile_id][2]}-{rows[tile_id][3]}", "-Oz", "-o",
                 tmp_path / f"{tile_id}.vcf.gz", cohort)  # fmt: skip
        if tile_id != "tile01":
            tabix(tmp_path / f"{tile_id}.vcf.gz")  # tile01: no index
    renamed = tmp_path / "rename.txt"
    renamed.write_text("22\tNC_000022.11\n")
    bcftools("annotate", "--rename-chrs", renamed, "-Oz", "-o", tmp_path / "nc.vcf.gz",
             tmp_path / "tile02.vcf.gz")  # fmt: skip
    shutil.move(tmp_path / "nc.vcf.gz", tmp_path / "tile02.vcf.gz")
    tabix(tmp_path / "tile02.vcf.gz")
    broken = bundle_copy(example / "models" / "tile03", tmp_path / "m03")
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    moved = bundle_copy(example / "models" / "tile04", tmp_path / "m04")
    table = (moved / "variants.tsv").read_text().splitlines()
    shifted = [table[0]]
    for line in table[1:]:  # as if the model's positions were on another genome build
        chrom, pos, *rest = line.split("\t")
        shifted.append("\t".join([chrom, str(int(pos) + 50_000), *rest]))
    (moved / "variants.tsv").write_text("\n".join(shifted) + "\n")
    lines = ["tile_id\tchrom\tstart\tend\tmodel"]
    models = {"tile03": broken, "tile04": moved}
    for tile_id in ("tile01", "tile02", "tile03", "tile04"):
        _, chrom, start, end, model = rows[tile_id]
        lines.append(f"{tile_id}\t{chrom}\t{start}\t{end}\t{models.get(tile_id, example / model)}")
    (tmp_path / "tiles.tsv").write_text("\n".join(lines) + "\n")
    return {
        "tile01.vcf.gz": "has no index",
        "tile02": "contig 22 (with or without 'chr' or a leading zero) is not in",
        "tile03": "m03",
        "tile04": "different genome build",
    }


def test_every_problem_named_in_one_table(tmp_path: Path, example: Path) -> None:
    expected = _broken_inputs(tmp_path, example)
    (tmp_path / "cfg.yaml").write_text("vcf: '{tile}.vcf.gz'\ntiles: tiles.tsv\n")
    proc = check(tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith("4 problem(s) found; see the table above")
    problems = proc.stdout.split("problems (4):", 1)[1].strip().splitlines()[1:]
    assert len(problems) == 4, proc.stdout
    for where, fragment in expected.items():
        line = next(p for p in problems if p.split()[0].endswith(where))
        assert fragment in line, line


def test_estimated_match_agrees_with_the_genotypes_step(tmp_path: Path, example: Path) -> None:
    """A model with a third of its variants moved off the file's sites: the estimate and the
    genotypes step's QC (every variant, read from the file) agree within the sample's error."""
    tile_id, chrom, start, end, model = tile_rows(example)[1]  # a bundle
    moved = bundle_copy(example / model, tmp_path / "m")
    table = (moved / "variants.tsv").read_text().splitlines()
    lines = [table[0]]
    for k, line in enumerate(table[1:]):
        c, pos, *rest = line.split("\t")
        lines.append("\t".join([c, str(int(pos) + (7 if k % 3 == 0 else 0)), *rest]))
    (moved / "variants.tsv").write_text("\n".join(lines) + "\n")
    (tmp_path / "tiles.tsv").write_text(
        f"tile_id\tchrom\tstart\tend\tmodel\n{tile_id}\t{chrom}\t{start}\t{end}\t{moved}\n"
    )
    (tmp_path / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: tiles.tsv\nmin_variant_match: 0\n"
    )
    proc = check(tmp_path)
    assert proc.returncode == 0, proc.stderr
    estimate = float(
        next(row for row in proc.stdout.splitlines() if row.startswith(tile_id)).split()[4][:-1]
    )
    tile = read_tiles(tmp_path / "tiles.tsv")[0]
    variants = load_variants(tile.model, chrom=tile.chrom)
    genotypes = read_tile_genotypes(
        example / "cohort.vcf.gz", tile, variants, min_variant_match=0.0
    )
    actual = genotypes.qc.matched / len(variants)
    assert abs(estimate / 100 - actual) <= 0.15, (estimate, actual)
    assert 0.5 < actual < 0.8  # the moved third is really missing
