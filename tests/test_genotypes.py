"""Genotype reading and alignment, checked against bcftools query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import write_vcf
from htstools import bcftools, tabix, vcf_to_bcf
from oracle import oracle_alleles

from vcf2embed.errors import AlignmentError, InputError
from vcf2embed.genotypes import (
    classify,
    is_strand_ambiguous,
    load_genotypes,
    pick_contig,
    read_samples_file,
    resolve_vcf_path,
    save_genotypes,
)
from vcf2embed.genotypes import (
    read_tile_genotypes as _read_tile_genotypes,
)
from vcf2embed.tiles import Tile
from vcf2embed.variants import VariantList


def read_tile_genotypes(*args, **kwargs):
    """The library call without the pipeline's match threshold: the corpora below leave some
    model variants out on purpose."""
    kwargs.setdefault("min_variant_match", 0.0)
    return _read_tile_genotypes(*args, **kwargs)


SAMPLES = ["s1", "s2", "s3", "s4", "s5"]
RECORDS = [
    # exact
    "1\t100\t.\tA\tG\t.\t.\t.\tGT:DS:GP\t0|0:0:1,0,0\t0|1:1:0,1,0\t1|1:2:0,0,1\t./.:.:.\t.|1:.:.",
    # swapped relative to the model (model A>C)
    "1\t200\t.\tC\tA\t.\t.\t.\tGT:DS:GP\t0/0:0:1,0,0\t0/1:0.9:0.1,0.9,0\t1/1:2:0,0,1\t0|.:.:.\t1:1:0,0,1",
    # multi-allelic holding the model's T>G
    "1\t300\t.\tT\tC,G\t.\t.\t.\tGT:DS:GP\t0/2:.:.\t1/2:.:.\t2/2:.:.\t0/1:.:.\t0/0:.:.",
    # split multi-allelic: two records at 400, model wants G>T
    "1\t400\t.\tG\tA\t.\t.\t.\tGT:DS:GP\t0/1:1:.\t0/0:0:.\t0/0:0:.\t1/1:2:.\t0/0:0:.",
    "1\t400\t.\tG\tT\t.\t.\t.\tGT:DS:GP\t0/0:0:.\t0/1:1:.\t1/1:2:.\t0/0:0:.\t./.:.:.",
    # strand-ambiguous A/T
    "1\t500\t.\tA\tT\t.\t.\t.\tGT:DS:GP\t0|1:1:.\t0|1:1:.\t0|0:0:.\t1|1:2:.\t0|0:0:.",
    # not in the model
    "1\t550\t.\tC\tT\t.\t.\t.\tGT:DS:GP\t0|1:1:.\t0|1:1:.\t0|0:0:.\t1|1:2:.\t0|0:0:.",
    # same position, other alleles than the model's
    "1\t600\t.\tG\tC\t.\t.\t.\tGT:DS:GP\t0|1:1:.\t0|1:1:.\t0|0:0:.\t1|1:2:.\t0|0:0:.",
]
MODEL = [
    (100, "A", "G"),
    (200, "A", "C"),
    (300, "T", "G"),
    (400, "G", "T"),
    (500, "A", "T"),
    (600, "G", "A"),
    (700, "C", "T"),
]


def variant_list(model=MODEL, chrom="1") -> VariantList:
    return VariantList(
        chrom=tuple([chrom] * len(model)),
        pos=np.array([m[0] for m in model]),
        ref=tuple(m[1] for m in model),
        alt=tuple(m[2] for m in model),
        source="test",
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_vcf(tmp_path / "c.vcf.gz", RECORDS, SAMPLES)


def tile(chrom="1") -> Tile:
    return Tile("t1", chrom, 1, 1000, Path("unused"))


READERS = ["text", "bcf", "cyvcf2"]


def as_bcf(vcf: Path) -> Path:
    """An indexed BCF copy of a bgzipped VCF, beside it."""
    bcf = vcf.with_name(vcf.name.replace(".vcf.gz", ".bcf"))
    if not bcf.exists():
        vcf_to_bcf(vcf, bcf)
    return bcf


def read_as(vcf: Path, reader: str, *args, **kwargs):
    """`read_tile_genotypes` with `reader`, on a BCF copy of `vcf` for the bcf reader."""
    path = as_bcf(vcf) if reader == "bcf" else vcf
    return read_tile_genotypes(path, *args, reader=reader, **kwargs)


@pytest.mark.parametrize("reader", READERS)
def test_alignment_matches_bcftools_oracle(corpus: Path, reader: str) -> None:
    got = read_as(corpus, reader, tile(), variant_list())
    names, expected = oracle_alleles(corpus, "1:1-1000", MODEL)
    assert got.samples == names
    np.testing.assert_array_equal(got.alleles, expected)


@pytest.mark.parametrize("reader", READERS)
def test_alignment_counts(corpus: Path, reader: str) -> None:
    qc = read_as(corpus, reader, tile(), variant_list()).qc
    assert (qc.matched_exact, qc.matched_swapped, qc.matched_multiallelic) == (3, 1, 1)
    assert qc.missing_variants == 2  # 600 has other alleles, 700 is absent
    assert qc.strand_ambiguous == 1
    assert qc.records_read == 8
    assert qc.records_not_in_model == 3  # 550, 600 and the G>A record at 400
    assert qc.calls_half_missing == 2  # .|1 and 0|.
    assert qc.calls_haploid == 1
    assert qc.calls_other_allele == 2  # 1/2 and 0/1 carry C at the multi-allelic 300
    assert qc.missing_examples == ["1:600:G:A", "1:700:C:T"]
    assert qc.match_rate == pytest.approx(5 / 7)


@pytest.mark.parametrize("reader", READERS)
def test_specific_calls(corpus: Path, reader: str) -> None:
    g = read_as(corpus, reader, tile(), variant_list())
    a = g.alleles
    assert a[4, 0].tolist() == [-1, -1]  # half-missing .|1 is missing, not 1
    assert a[3, 1].tolist() == [-1, -1]  # 0|. is missing
    assert a[4, 1].tolist() == [0, 0]  # haploid VCF-ALT A is model REF, homozygous
    assert a[0, 1].tolist() == [1, 1]  # swapped: VCF 0/0 is model ALT
    assert a[0, 2].tolist() == [0, 1]  # 0/2 at the multi-allelic record
    assert a[1, 2].tolist() == [-1, -1]  # 1/2 carries C: missing for T>G
    assert a[2, 3].tolist() == [1, 1]  # split record G>T chosen over G>A
    assert g.phased[0, 0] and not g.phased[0, 1]


def test_half_missing_not_called_by_cyvcf2_default(corpus: Path) -> None:
    from cyvcf2 import VCF

    rec = next(iter(VCF(str(corpus))("1:100-100")))
    # the measured trap: the default strict_gt=False calls `.|1` as a genotype
    assert rec.gt_types[4] != 2
    g = read_tile_genotypes(corpus, tile(), variant_list())
    assert (g.alleles[4, 0] == -1).all()


def test_samples_subset_and_order(corpus: Path) -> None:
    wanted = ["s3", "s1"]
    got = read_tile_genotypes(corpus, tile(), variant_list(), samples=wanted)
    _, expected = oracle_alleles(corpus, "1:1-1000", MODEL, samples=wanted)
    assert got.samples == wanted
    np.testing.assert_array_equal(got.alleles, expected)


def test_unknown_sample_is_an_error(corpus: Path) -> None:
    with pytest.raises(InputError, match="nobody"):
        read_tile_genotypes(corpus, tile(), variant_list(), samples=["s1", "nobody"])


def test_samples_file_duplicate(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("a\nb\na\n")
    with pytest.raises(InputError, match="'a' is listed twice"):
        read_samples_file(f)


def test_duplicate_vcf_samples(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "d.vcf.gz", ["1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/0"], ["x", "x"])
    with pytest.raises(InputError, match="'x' appears more than once"):
        read_tile_genotypes(vcf, tile(), variant_list())


def test_chr_prefix_either_way(tmp_path: Path) -> None:
    vcf = write_vcf(
        tmp_path / "chr.vcf.gz",
        [r.replace("1\t", "chr1\t", 1) for r in RECORDS],
        SAMPLES,
        contig="chr1",
    )
    plain = write_vcf(tmp_path / "plain.vcf.gz", RECORDS, SAMPLES)
    a = read_tile_genotypes(vcf, tile("1"), variant_list()).alleles
    b = read_tile_genotypes(plain, tile("chr1"), variant_list(chrom="chr1")).alleles
    np.testing.assert_array_equal(a, b)


def test_bcf_equals_vcf(corpus: Path, tmp_path: Path) -> None:
    bcf = tmp_path / "c.bcf"
    vcf_to_bcf(corpus, bcf)
    a = read_tile_genotypes(corpus, tile(), variant_list()).alleles
    b = read_tile_genotypes(bcf, tile(), variant_list()).alleles
    np.testing.assert_array_equal(a, b)


def test_missing_index_error_gives_the_command(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "n.vcf.gz", RECORDS, SAMPLES, index=False)
    with pytest.raises(InputError, match="bcftools index -t"):
        read_tile_genotypes(vcf, tile(), variant_list())


def test_unknown_contig(corpus: Path) -> None:
    with pytest.raises(InputError, match="contig 7"):
        read_tile_genotypes(corpus, tile("7"), variant_list(chrom="7"))


def test_low_match_rate_fails_with_cause(corpus: Path) -> None:
    shifted = [(p + 1, r, a) for p, r, a in MODEL]
    with pytest.raises(AlignmentError, match=r"0 of 7 model variants \(0.0%\).*1:101:A:G"):
        read_tile_genotypes(corpus, tile(), variant_list(shifted), min_variant_match=0.5)


def test_duplicate_record_is_an_error(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "dup.vcf.gz", [RECORDS[0], RECORDS[0]], SAMPLES)
    with pytest.raises(InputError, match="both match model variant 1:100:A:G"):
        read_tile_genotypes(vcf, tile(), variant_list(MODEL[:1]))


def test_positions_only(corpus: Path, caplog) -> None:
    v = VariantList(("1", "1"), np.array([100, 200]), None, None, "pos.txt")
    g = read_tile_genotypes(corpus, tile(), v)
    assert g.qc.matched_by_position == 2
    assert g.alleles[2, 0].tolist() == [1, 1]
    assert g.alleles[2, 1].tolist() == [1, 1]  # VCF's own REF/ALT orientation at 200
    assert "positions only" in caplog.text


def test_dosage_fields(corpus: Path) -> None:
    ds = read_tile_genotypes(corpus, tile(), variant_list(), genotype_field="DS").dosage
    assert ds[:3, 0].tolist() == [0, 1, 2]
    assert np.isnan(ds[3, 0])
    assert ds[:3, 1] == pytest.approx([2, 1.1, 0])  # swapped: 2 - DS
    gp = read_tile_genotypes(corpus, tile(), variant_list(), genotype_field="GP").dosage
    assert gp[:3, 0].tolist() == [0, 1, 2]
    assert gp[1, 1] == pytest.approx(0.9 + 2 * 0.1)


def test_save_load_roundtrip(corpus: Path, tmp_path: Path) -> None:
    g = read_tile_genotypes(corpus, tile(), variant_list())
    save_genotypes(g, tmp_path / "g.npz")
    h = load_genotypes(tmp_path / "g.npz")
    np.testing.assert_array_equal(g.alleles, h.alleles)
    assert h.samples == g.samples and h.qc == g.qc
    assert not list(tmp_path.glob(".*tmp"))


def test_classify_and_strand() -> None:
    assert classify(["A", "G"], "A", "G") == "exact"
    assert classify(["G", "A"], "A", "G") == "swapped"
    assert classify(["A", "C", "G"], "A", "G") == "multiallelic"
    assert classify(["A", "C"], "A", "G") is None
    assert is_strand_ambiguous("A", "T") and is_strand_ambiguous("G", "C")
    assert not is_strand_ambiguous("A", "G")


def test_vcf_patterns(tmp_path: Path) -> None:
    (tmp_path / "chr1.vcf.gz").write_text("")
    (tmp_path / "t1.vcf.gz").write_text("")
    t = tile("1")
    assert resolve_vcf_path(str(tmp_path / "{chrom}.vcf.gz"), t) == tmp_path / "chr1.vcf.gz"
    assert resolve_vcf_path(str(tmp_path / "{tile}.vcf.gz"), t) == tmp_path / "t1.vcf.gz"
    with pytest.raises(InputError, match="tried"):
        resolve_vcf_path(str(tmp_path / "x{chrom}.vcf.gz"), t)
    # chromosome 1 written `01` (UK Biobank's BGEN files), or files named `c1` for tiles on `01`
    (tmp_path / "ukb_c02.bgen").write_text("")
    (tmp_path / "ukb_c3.bgen").write_text("")
    padded = str(tmp_path / "ukb_c{chrom}.bgen")
    assert resolve_vcf_path(padded, tile("chr2")) == tmp_path / "ukb_c02.bgen"
    assert resolve_vcf_path(padded, tile("03")) == tmp_path / "ukb_c3.bgen"
    assert pick_contig(["01", "02"], tmp_path, "chr1") == "01"
    assert pick_contig(["chr10", "1"], tmp_path, "01") == "1"
    with pytest.raises(InputError, match="contig 10 .* leading zero"):
        pick_contig(["01"], tmp_path, "10")


def test_readers_agree_on_gt_only_file(tmp_path: Path, corpus: Path) -> None:
    plain = tmp_path / "gt.vcf.gz"
    bcftools("annotate", "-x", "FORMAT/DS,FORMAT/GP", corpus, "-Oz", "-o", plain)
    tabix(plain)
    a = read_tile_genotypes(plain, tile(), variant_list(), reader="text")
    b = read_tile_genotypes(plain, tile(), variant_list(), reader="cyvcf2")
    c = read_tile_genotypes(as_bcf(plain), tile(), variant_list())
    for other in (b, c):
        np.testing.assert_array_equal(a.alleles, other.alleles)
        np.testing.assert_array_equal(a.phased, other.phased)
        assert a.qc == other.qc
    assert a.source["reader"] == "text" and c.source["reader"] == "bcf"


def test_readers_refused_where_they_cannot_apply(corpus: Path, tmp_path: Path) -> None:
    bcf = as_bcf(corpus)
    with pytest.raises(InputError, match="text reader needs"):
        read_tile_genotypes(bcf, tile(), variant_list(), reader="text")
    with pytest.raises(InputError, match="bcf reader needs"):
        read_tile_genotypes(corpus, tile(), variant_list(), reader="bcf")
    assert read_tile_genotypes(bcf, tile(), variant_list()).source["reader"] == "bcf"
    dosage = read_tile_genotypes(bcf, tile(), variant_list(), genotype_field="DS")
    assert dosage.source["reader"] == "cyvcf2"


def test_example_cohort_matches_oracle(example: Path) -> None:
    from vcf2embed.tiles import read_tiles
    from vcf2embed.variants import load_variants

    t = read_tiles(example / "tiles.tsv")[1]
    v = load_variants(t.model)
    got = read_tile_genotypes(example / "cohort.vcf.gz", t, v)
    slow = read_tile_genotypes(example / "cohort.vcf.gz", t, v, reader="cyvcf2")
    assert got.source["reader"] == "text"
    np.testing.assert_array_equal(got.alleles, slow.alleles)
    np.testing.assert_array_equal(got.phased, slow.phased)
    assert got.qc == slow.qc
    model = list(zip(v.pos.tolist(), v.ref, v.alt))
    names, expected = oracle_alleles(
        example / "cohort.vcf.gz", f"{t.chrom}:{v.pos.min()}-{v.pos.max()}", model
    )
    assert got.samples == names
    np.testing.assert_array_equal(got.alleles, expected)
    assert got.qc.calls_half_missing > 0 and got.qc.matched_swapped > 0


@pytest.mark.parametrize("reader", READERS)
def test_replaced_record_leaves_no_trace_in_call_counts(tmp_path: Path, reader: str) -> None:
    # a multi-allelic record first (two calls carry C), then the exact record for G>T
    records = [
        "1\t400\t.\tG\tC,T\t.\t.\t.\tGT\t1/2\t0/1\t./.\t.|1\t0/2",
        "1\t400\t.\tG\tT\t.\t.\t.\tGT\t0/1\t0/0\t0/0\t1/1\t0/1",
    ]
    vcf = write_vcf(tmp_path / "r.vcf.gz", records, SAMPLES, formats=("GT",))
    g = read_as(vcf, reader, tile(), variant_list([(400, "G", "T")]))
    assert g.qc.matched_exact == 1 and g.qc.matched_multiallelic == 0
    assert (g.qc.calls_missing, g.qc.calls_half_missing, g.qc.calls_other_allele) == (0, 0, 0)
    assert g.alleles[:, 0].tolist() == [[0, 1], [0, 0], [0, 0], [1, 1], [0, 1]]


def test_bcf_common_records_with_odd_calls_and_sample_subset(tmp_path: Path) -> None:
    # GT-only exact records (the bcf reader's table path) holding haploid, half-missing,
    # multi-digit and mixed-phase calls, plus a record of another layout between them
    records = [
        "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0|1\t1\t.|.\t0/.\t1|1",
        "1\t150\t.\tA\tC,T\t.\t.\t.\tGT\t0/2\t1/1\t2|0\t./.\t0|0",
        "1\t200\t.\tA\tC\t.\t.\t.\tGT\t0/0\t1/0\t1|0\t0\t./1",
        "1\t300\t.\tT\tG\t.\t.\t.\tGT\t0|0\t0|1\t1|1\t0|0\t1|0",
    ]
    model = [(100, "A", "G"), (150, "A", "T"), (200, "A", "C"), (300, "T", "G")]
    vcf = write_vcf(tmp_path / "odd.vcf.gz", records, SAMPLES, formats=("GT",))
    subset = ["s4", "s1", "s5"]
    text = read_tile_genotypes(vcf, tile(), variant_list(model), samples=subset, reader="text")
    binary = read_tile_genotypes(as_bcf(vcf), tile(), variant_list(model), samples=subset)
    slow = read_tile_genotypes(vcf, tile(), variant_list(model), samples=subset, reader="cyvcf2")
    names, expected = oracle_alleles(vcf, "1:1-1000", model, samples=subset)
    assert binary.source["reader"] == "bcf" and binary.samples == names == subset
    for got in (text, binary, slow):
        np.testing.assert_array_equal(got.alleles, expected)
        np.testing.assert_array_equal(got.phased, slow.phased)
        assert got.qc == slow.qc
    assert slow.qc.calls_haploid == 1 and slow.qc.calls_half_missing == 2  # s4: `0`; `0/.`, `./1`


def test_sample_rows_equal_the_sample_major_arrays(corpus: Path, tmp_path: Path) -> None:
    g = read_tile_genotypes(corpus, tile(), variant_list())
    save_genotypes(g, tmp_path / "g.npz")
    loaded = load_genotypes(tmp_path / "g.npz")  # variant-major only
    for index in (slice(1, 4), np.array([4, 0, 2])):
        alleles, phased = loaded.sample_rows(index)
        np.testing.assert_array_equal(alleles, g.alleles[index])
        np.testing.assert_array_equal(phased, g.phased[index])
        assert loaded.sample_rows(index, phased=False)[1] is None


def test_bcf_header_dictionaries() -> None:
    from vcf2embed.genotypes.sources.bcf_binary import parse_header

    with_idx = "\n".join(
        [
            '##FILTER=<ID=PASS,Description="All filters passed",IDX=0>',
            "##contig=<ID=chr2,length=10,IDX=3>",
            "##contig=<ID=chr1,length=10,IDX=0>",
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="d",IDX=4>',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="g",IDX=7>',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb",
        ]
    )
    samples, contigs, formats, strings = parse_header(with_idx, Path("x.bcf"))
    assert samples == ["a", "b"] and contigs == {0: "chr1", 3: "chr2"}
    assert formats == {"GT"} and strings == {"PASS": 0, "DP": 4, "GT": 7}
    # without IDX: PASS first, then each new ID in order; INFO and FORMAT share one dictionary
    plain = "\n".join(
        [
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">',
            '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="d">',
            "##contig=<ID=1,length=10>",
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta",
        ]
    )
    _, contigs, _, strings = parse_header(plain, Path("x.bcf"))
    assert contigs == {0: "1"} and strings == {"PASS": 0, "DP": 1, "GT": 2}
