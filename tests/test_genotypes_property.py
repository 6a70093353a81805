"""Property-based: random small VCFs through the reader agree with the bcftools oracle."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import write_vcf
from htstools import bcftools, vcf_to_bcf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import oracle_alleles, variant_present

from vcf2embed.errors import AlignmentError
from vcf2embed.genotypes import read_tile_genotypes as _read_tile_genotypes
from vcf2embed.tiles import Tile
from vcf2embed.variants import VariantList

BASES = "ACGT"


def read_tile_genotypes(*args, **kwargs):
    """The library call without the pipeline's match threshold: random models leave some
    variants out of the VCF."""
    kwargs.setdefault("min_variant_match", 0.0)
    return _read_tile_genotypes(*args, **kwargs)


@st.composite
def cohorts(draw):
    n_samples = draw(st.integers(1, 6))
    samples = [f"s{i}" for i in range(n_samples)]
    records, model = [], []
    pos = 0
    for _ in range(draw(st.integers(1, 8))):
        pos += draw(st.integers(1, 50))
        ref = draw(st.sampled_from(BASES))
        others = [b for b in BASES if b != ref]
        kind = draw(st.sampled_from(["biallelic", "multi", "split"]))
        if kind == "multi":
            alts = draw(st.permutations(others))[: draw(st.integers(2, 3))]
            site = [[ref, *alts]]
        elif kind == "split":
            alts = draw(st.permutations(others))[:2]
            site = [[ref, alts[0]], [ref, alts[1]]]
        else:
            site = [[ref, draw(st.sampled_from(others))]]
        for alleles in site:
            gts = []
            for _ in samples:
                n_all = len(alleles)
                call = draw(
                    st.one_of(
                        st.tuples(st.integers(0, n_all - 1), st.integers(0, n_all - 1)).map(
                            lambda t: f"{t[0]}{draw(st.sampled_from('|/'))}{t[1]}"
                        ),
                        st.sampled_from(
                            ["./.", ".|.", f".|{n_all - 1}", "0/.", "0", str(n_all - 1)]
                        ),
                    )
                )
                gts.append(call)
            records.append(
                f"1\t{pos}\t.\t{alleles[0]}\t{','.join(alleles[1:])}\t.\t.\t.\tGT\t"
                + "\t".join(gts)
            )
        site_alleles = sorted({a for alleles in site for a in alleles})
        choice = draw(st.sampled_from(["exact", "swapped", "pair", "absent"]))
        first = site[0]
        if choice == "exact":
            model.append((pos, first[0], first[1]))
        elif choice == "swapped":
            model.append((pos, first[1], first[0]))
        elif choice == "pair" and len(site_alleles) >= 2:
            a, b = draw(st.permutations(site_alleles))[:2]
            model.append((pos, a, b))
        else:
            missing = [b for b in BASES if b not in site_alleles] or ["N"]
            model.append((pos, missing[0], first[0]))
    subset = draw(
        st.one_of(st.none(), st.permutations(samples).map(lambda p: p[: max(1, len(p) - 1)]))
    )
    return samples, records, model, subset


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_random_vcfs_agree_with_bcftools(data) -> None:
    samples, records, model, subset = data
    with tempfile.TemporaryDirectory() as tmp:
        vcf = write_vcf(Path(tmp) / "r.vcf.gz", records, samples)
        variants = VariantList(
            chrom=tuple("1" for _ in model),
            pos=np.array([m[0] for m in model]),
            ref=tuple(m[1] for m in model),
            alt=tuple(m[2] for m in model),
            source="random",
        )
        tile = Tile("t", "1", 1, 10_000, Path("x"))
        region = f"1:1-{max(m[0] for m in model)}"
        names, expected = oracle_alleles(vcf, region, model, samples=subset)
        if (expected < 0).all() and not any(variant_present(vcf, m) for m in model):
            # no model variant is in the VCF at all: both readers refuse the tile
            for reader in ("text", "cyvcf2"):
                with pytest.raises(AlignmentError):
                    read_tile_genotypes(vcf, tile, variants, samples=subset, reader=reader)
            return
        bcf = Path(tmp) / "r.bcf"
        vcf_to_bcf(vcf, bcf)
        got = read_tile_genotypes(vcf, tile, variants, samples=subset, reader="text")
        slow = read_tile_genotypes(vcf, tile, variants, samples=subset, reader="cyvcf2")
        binary = read_tile_genotypes(bcf, tile, variants, samples=subset, reader="bcf")
        assert got.samples == names == slow.samples == binary.samples
        np.testing.assert_array_equal(got.alleles, expected)
        for other in (slow, binary):
            np.testing.assert_array_equal(other.alleles, expected)
            np.testing.assert_array_equal(got.phased, other.phased)
            assert got.qc == other.qc
        assert got.qc.matched + got.qc.missing_variants == len(model)


CALL_SHAPES = st.sampled_from(
    ["0|1", "1/0", "0", "1", ".", "./.", ".|1", "0/.", "2|3", "9", "10/1", "0x1", "", "0|1|1"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(CALL_SHAPES, min_size=1, max_size=12))
def test_vectorised_calls_agree_with_the_per_call_parser(calls) -> None:
    import vcf2embed.genotypes.sources.vcf_text_decode as gtext

    text = "\t".join(calls).encode()
    fast = gtext.one_digit_calls(text, len(calls))
    original = gtext.one_digit_calls
    gtext.one_digit_calls = lambda *_: None  # the per-call parser alone
    try:
        slow = gtext.decode_general(b"GT", text, len(calls), "1:100 A>G")
    except Exception:
        slow = None
    finally:
        gtext.one_digit_calls = original
    if fast is not None:
        np.testing.assert_array_equal(fast, slow)
    one_digit = all(
        c in ("0|1", "1/0", "0", "1", ".", "./.", ".|1", "0/.", "2|3", "9") for c in calls
    )
    assert (fast is not None) == one_digit


def _number(draw, fixed: bool) -> str:
    """A value as imputation servers write it: fixed `%.3f`, or shortest (Beagle), or `.`."""
    value = draw(st.integers(0, 2000)) / 1000
    if fixed:
        return f"{value:.3f}"
    return draw(st.sampled_from([f"{value:g}", f"{value}", "."]))


@st.composite
def imputed_cohorts(draw):
    n_samples = draw(st.integers(1, 6))
    fixed = draw(st.booleans())
    fmt = draw(st.sampled_from(["GT:DS:GP", "GT:DS", "GT:GP", "DS:GT:GP"]))
    records, model = [], []
    for k in range(draw(st.integers(1, 6))):
        pos = 10 * (k + 1)
        ref, alt = draw(st.permutations(BASES))[:2]
        cells = []
        for _ in range(n_samples):
            values = {
                "GT": draw(st.sampled_from(["0|0", "0|1", "1|0", "1/1", "./.", "1"])),
                "DS": _number(draw, fixed),
                "GP": ",".join(_number(draw, fixed) for _ in range(3)),
            }
            cell = ":".join(values[key] for key in fmt.split(":"))
            if not fixed and fmt.startswith("GT") and draw(st.integers(0, 5)) == 0:
                cell = cell.split(":")[0]  # trailing fields dropped, as VCF allows
            cells.append(cell)
        records.append(f"1\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\t{fmt}\t" + "\t".join(cells))
        model.append((pos, ref, alt) if draw(st.booleans()) else (pos, alt, ref))
    return [f"s{i}" for i in range(n_samples)], records, model


def _oracle_dosage(vcf: Path, field: str, model: list[tuple[int, str, str]]) -> np.ndarray:
    """(samples, variants) model-ALT dosage from `bcftools query` output, by hand."""
    out = bcftools("query", "-f", f"%POS\t%REF[\t%{field}]\n", vcf)
    columns = []
    for line, (_, mref, _) in zip(out.splitlines(), model):
        _, ref, *cells = line.split("\t")
        swapped = ref != mref
        column = []
        for cell in cells:
            v = [float("nan") if x == "." else float(x) for x in cell.split(",")]
            if field == "DS":
                column.append(2 - v[0] if swapped else v[0])
            elif len(v) < 3:
                column.append(float("nan"))
            else:
                column.append(v[1] + 2 * (v[0] if swapped else v[2]))
        columns.append(column)
    return np.array(columns, dtype=np.float64).T


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(imputed_cohorts(), st.sampled_from(["DS", "GP"]))
def test_imputed_fields_agree_with_bcftools_and_cyvcf2(data, field) -> None:
    samples, records, model = data
    with tempfile.TemporaryDirectory() as tmp:
        vcf = write_vcf(Path(tmp) / "i.vcf.gz", records, samples)
        variants = VariantList(
            chrom=tuple("1" for _ in model),
            pos=np.array([m[0] for m in model]),
            ref=tuple(m[1] for m in model),
            alt=tuple(m[2] for m in model),
            source="random",
        )
        tile = Tile("t", "1", 1, 10_000, Path("x"))
        got = read_tile_genotypes(vcf, tile, variants, genotype_field=field, reader="text")
        slow = read_tile_genotypes(vcf, tile, variants, genotype_field=field, reader="cyvcf2")
        hard = read_tile_genotypes(vcf, tile, variants, reader="text")
        names, expected = oracle_alleles(vcf, f"1:1-{10 * len(model)}", model)
        assert got.source["reader"] == "text" and got.samples == names
        np.testing.assert_array_equal(hard.alleles, expected)
        np.testing.assert_array_equal(got.alleles, slow.alleles)
        np.testing.assert_array_equal(got.dosage, slow.dosage)  # NaN where missing, equal bits
        assert got.qc == slow.qc
        oracle = _oracle_dosage(vcf, field, model)
        np.testing.assert_allclose(got.dosage, oracle.astype(np.float32), rtol=0, atol=1e-6)
