"""Imputed data: soft allele presence from GP and the `min_info_r2` filter. Oracle: the same
figures computed by hand from `bcftools query` output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import write_vcf
from htstools import bcftools

from vcf2embed.architectures import LabAutoencoder
from vcf2embed.embed import model_input
from vcf2embed.errors import InputError
from vcf2embed.genotypes import read_tile_genotypes
from vcf2embed.models import load_model, save_bundle
from vcf2embed.tiles import Tile
from vcf2embed.variants import VariantList

SAMPLES = [f"s{i}" for i in range(12)]
R2_HEADER = '##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation R2">'
TILE = Tile("t", "1", 1, 10_000, None)


def imputed_records(rng: np.random.Generator, one_hot: bool) -> tuple[list[str], list[tuple]]:
    """Twelve records with GT:DS:GP (some GP missing) and INFO/R2; the model swaps some."""
    records, model = [], []
    for k in range(12):
        pos, ref, alt = 100 * (k + 1), "ACGT"[k % 4], "ACGT"[(k + 1) % 4]
        cells = []
        for _ in SAMPLES:
            g = int(rng.integers(0, 3))
            gp = np.eye(3)[g] if one_hot else rng.dirichlet([1, 1, 1])
            gp = np.round(gp, 3)
            gp[1] = round(1 - gp[0] - gp[2], 3)
            gt = ("0/0", "0/1", "1/1")[g] if one_hot else ("0/0", "0/1", "1/1")[int(gp.argmax())]
            text = ",".join(f"{v:.3f}" for v in gp)
            if not one_hot and rng.random() < 0.1:
                gt, text = "./.", "."
            cells.append(f"{gt}:{gp[1] + 2 * gp[2]:.3f}:{text}")
        records.append(
            f"1\t{pos}\t.\t{ref}\t{alt}\t.\t.\tR2={k / 12:.3f}\tGT:DS:GP\t" + "\t".join(cells)
        )
        model.append((pos, alt, ref) if k % 3 == 0 else (pos, ref, alt))
    return records, model


def bundle(folder: Path, model: list[tuple]) -> Path:
    variants = VariantList(
        ("1",) * len(model),
        np.array([m[0] for m in model]),
        tuple(m[1] for m in model),
        tuple(m[2] for m in model),
        "test",
    )
    width = 2 * len(model)
    arch = {"name": "lab_autoencoder", "ni": width, "no": width, "n_layers": 2, "size_ratio": 0.5}
    return save_bundle(folder, LabAutoencoder(width, width, 2, 0.5), variants, arch)


def query(vcf: Path, fmt: str) -> list[list[str]]:
    out = bcftools("query", "-f", fmt, vcf)
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.parametrize("reader", ["text", "cyvcf2"])
def test_soft_presence_is_gp_sums_by_hand(tmp_path: Path, reader: str) -> None:
    records, spec = imputed_records(np.random.default_rng(1), one_hot=False)
    vcf = write_vcf(tmp_path / "i.vcf.gz", records, SAMPLES, extra_header=(R2_HEADER,))
    model = load_model(bundle(tmp_path / "m", spec))
    g = read_tile_genotypes(vcf, TILE, model.variants, genotype_field="GP", reader=reader)
    x = model_input(model, g)
    expected = np.zeros((len(SAMPLES), 2 * len(spec)))
    for j, (row, (_, mref, _)) in enumerate(zip(query(vcf, "%REF[\t%GP]\n"), spec)):
        for i, cell in enumerate(row[1:]):
            if cell == ".":
                continue  # missing GP: the missing encoding [0, 0]
            p0, p1, p2 = (float(v) for v in cell.split(","))
            ref_present, alt_present = p0 + p1, p1 + p2
            if row[0] != mref:  # the model's REF is the file's ALT
                ref_present, alt_present = alt_present, ref_present
            expected[i, 2 * j : 2 * j + 2] = [min(ref_present, 1), min(alt_present, 1)]
    np.testing.assert_allclose(x, expected, rtol=0, atol=1 / 65535)


def test_soft_presence_equals_hard_encoding_for_certain_calls(tmp_path: Path) -> None:
    records, spec = imputed_records(np.random.default_rng(2), one_hot=True)
    vcf = write_vcf(tmp_path / "i.vcf.gz", records, SAMPLES, extra_header=(R2_HEADER,))
    model = load_model(bundle(tmp_path / "m", spec))
    soft = model_input(model, read_tile_genotypes(vcf, TILE, model.variants, genotype_field="GP"))
    hard = model_input(model, read_tile_genotypes(vcf, TILE, model.variants))
    np.testing.assert_array_equal(soft, hard)


@pytest.mark.parametrize("reader", ["text", "cyvcf2"])
def test_min_info_r2_gives_low_quality_variants_the_missing_encoding(tmp_path, reader) -> None:
    records, spec = imputed_records(np.random.default_rng(3), one_hot=True)
    vcf = write_vcf(tmp_path / "i.vcf.gz", records, SAMPLES, extra_header=(R2_HEADER,))
    model = load_model(bundle(tmp_path / "m", spec))
    g = read_tile_genotypes(vcf, TILE, model.variants, reader=reader, min_info_r2=0.5)
    r2 = np.array([float(row[0]) for row in query(vcf, "%INFO/R2\n")])
    low = r2 < 0.5
    assert g.qc.low_info_variants == int(low.sum()) > 0 and g.qc.info_unknown_variants == 0
    x = model_input(model, g).reshape(len(SAMPLES), -1, 2)
    assert not x[:, low].any()  # the missing encoding
    kept = model_input(model, read_tile_genotypes(vcf, TILE, model.variants, reader=reader))
    np.testing.assert_array_equal(x[:, ~low], kept.reshape(len(SAMPLES), -1, 2)[:, ~low])


def test_info_table_scores_win_and_a_missing_quality_is_an_error(tmp_path: Path) -> None:
    records, spec = imputed_records(np.random.default_rng(4), one_hot=True)
    plain = [r.replace(r.split("\t")[7], ".", 1) for r in records]  # no INFO/R2
    vcf = write_vcf(tmp_path / "p.vcf.gz", plain, SAMPLES)
    model = load_model(bundle(tmp_path / "m", spec))
    with pytest.raises(InputError, match="info_table"):
        read_tile_genotypes(vcf, TILE, model.variants, min_info_r2=0.5)
    # UK Biobank's mfi layout: alternate id, rsid, position, allele 1, allele 2, maf, minor, info
    table = tmp_path / "ukb_mfi_chr1_v3.txt"
    rows = [
        f"1:{p}_{a}_{b}\trs{p}\t{p}\t{a}\t{b}\t0.1\t{b}\t{0.9 if p % 200 else 0.2}"
        for p, a, b in spec
    ]
    table.write_text("\n".join(rows) + "\n")
    g = read_tile_genotypes(
        vcf,
        TILE,
        model.variants,
        min_info_r2=0.5,
        info_table=tmp_path / "ukb_mfi_chr{chrom}_v3.txt",
    )
    assert g.qc.low_info_variants == sum(1 for p, _, _ in spec if p % 200 == 0)
