"""The compact genotype store. Oracles: the arrays before saving (hard calls must round-trip
exactly), `bcftools query` for dosages (within the stated quantisation error), and the bytes of
the tile's region as `bcftools view -Oz` writes it (the store must not be larger)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import write_vcf
from htstools import bcftools

from vcf2embed.genotypes import load_genotypes, read_tile_genotypes, save_genotypes
from vcf2embed.genotypes.store import pack_calls, unpack_calls
from vcf2embed.genotypes.tile import TileGenotypes
from vcf2embed.tiles import Tile, read_tiles
from vcf2embed.variants import VariantList, load_variants


def random_calls(rng: np.random.Generator, n_var: int, n: int) -> np.ndarray:
    """Variant-major allele codes with hets in both orders and whole-call missingness."""
    calls = rng.integers(0, 2, size=(n_var, n, 2), dtype=np.int8)
    calls[rng.random((n_var, n)) < 0.1] = -1
    return calls


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 9, 1001])
def test_hard_calls_round_trip_exactly(n: int) -> None:
    rng = np.random.default_rng(n)
    calls = random_calls(rng, 300, n)  # more variants than one packing block
    packed, het_order = pack_calls(calls)
    assert packed.shape == (300, -(-n // 4))
    np.testing.assert_array_equal(unpack_calls(packed, het_order, n), calls)


def test_store_file_round_trips_calls_phase_and_qc(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    calls = random_calls(rng, 40, 13)
    phased = rng.random((40, 13)) < 0.5
    g = TileGenotypes("t", [f"s{i}" for i in range(13)], alleles_vm=calls, phased_vm=phased)
    g.qc.records_read = 41
    save_genotypes(g, tmp_path / "g.npz")
    back = load_genotypes(tmp_path / "g.npz")
    np.testing.assert_array_equal(back.alleles_vm, calls)
    np.testing.assert_array_equal(back.phased_vm, phased)
    assert back.samples == g.samples and back.qc == g.qc and back.dosage is None


def imputed_vcf(tmp_path: Path, n: int = 60, n_var: int = 50) -> tuple[Path, VariantList]:
    """A GT:DS VCF with three-decimal dosages, as imputation servers write them."""
    rng = np.random.default_rng(3)
    records, model = [], []
    for k in range(n_var):
        pos = 1000 + 10 * k
        ds = np.round(rng.random(n) * 2, 3)
        ds[rng.random(n) < 0.05] = np.nan
        gts = ["./." if np.isnan(d) else ("0/0", "0/1", "1/1")[int(round(d))] for d in ds]
        cells = [f"{g}:{'.' if np.isnan(d) else f'{d:.3f}'}" for g, d in zip(gts, ds)]
        records.append(f"1\t{pos}\t.\tA\tG\t.\t.\t.\tGT:DS\t" + "\t".join(cells))
        model.append((pos, "A", "G"))
    samples = [f"s{i}" for i in range(n)]
    vcf = write_vcf(tmp_path / "imp.vcf.gz", records, samples, formats=("GT", "DS"))
    variants = VariantList(
        ("1",) * n_var,
        np.array([m[0] for m in model]),
        tuple(m[1] for m in model),
        tuple(m[2] for m in model),
        "test",
    )
    return vcf, variants


def test_dosages_within_the_stated_error_of_bcftools(tmp_path: Path) -> None:
    vcf, variants = imputed_vcf(tmp_path)
    g = read_tile_genotypes(vcf, Tile("t", "1", 1, 10**6, None), variants, genotype_field="DS")
    save_genotypes(g, tmp_path / "g.npz")
    back = load_genotypes(tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as data:
        max_error = json.loads(str(data["meta"]))["dosage_max_error"]
    assert max_error == pytest.approx(2 / 131068 + 2 * 2.0**-24)
    out = bcftools("query", "-f", "[%DS\t]\n", vcf)
    expected = np.array(
        [
            [np.nan if v == "." else float(v) for v in line.rstrip("\t").split("\t")]
            for line in out.splitlines()
        ]
    ).T  # samples x variants
    assert np.array_equal(np.isnan(back.dosage), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert np.abs(back.dosage[ok] - expected[ok]).max() <= max_error
    assert np.abs(back.dosage[ok] - expected[ok]).max() > 0  # quantised, not stored raw


def test_store_no_larger_than_the_tiles_input(tmp_path: Path, example: Path) -> None:
    tile = read_tiles(example / "tiles.tsv")[0]
    variants = load_variants(tile.model, chrom=tile.chrom)
    g = read_tile_genotypes(example / "cohort.vcf.gz", tile, variants)
    save_genotypes(g, tmp_path / "g.npz")
    region_vcf = tmp_path / "region.vcf.gz"
    bcftools("view", "-r", g.source["region"], "-Oz", "-o", region_vcf, example / "cohort.vcf.gz")
    stored, given = (tmp_path / "g.npz").stat().st_size, region_vcf.stat().st_size
    assert stored <= given, (stored, given)
