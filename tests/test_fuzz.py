"""Fuzzing `vcf2embed genotypes` with random VCF text, valid and broken."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from htstools import bgzip, tabix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import oracle_alleles, variant_present

from vcf2embed.defaults import default
from vcf2embed.genotypes import load_genotypes
from vcf2embed.variants import VariantList

MIN_MATCH = default("min_variant_match")  # the genotypes command's, unset here
HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=1,length=100000>",
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
]
BREAKS = [
    "none",
    "junk_allele",
    "drop_column",
    "bad_pos",
    "truncate",
    "extra_ploidy",
    "junk_separator",
]


@st.composite
def vcf_text(draw):
    n = draw(st.integers(1, 5))
    samples = [f"s{i}" for i in range(n)]
    lines, model = [], []
    pos = 0
    for _ in range(draw(st.integers(1, 6))):
        pos += draw(st.integers(1, 30))
        ref, alt = draw(st.sampled_from([("A", "G"), ("C", "T"), ("G", "A"), ("T", "C")]))
        calls = [
            draw(st.sampled_from(["0|0", "0|1", "1|1", "1|0", "./.", "0/1", ".|1", "1"]))
            for _ in samples
        ]
        lines.append(f"1\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\tGT\t" + "\t".join(calls))
        model.append((pos, ref, alt))
    kind = draw(st.sampled_from(BREAKS))
    row = draw(st.integers(0, len(lines) - 1))
    fields = lines[row].split("\t")
    if kind == "junk_allele":
        fields[9] = draw(st.sampled_from(["0|x", "a/1", "0|-1", "|", "0||1"]))
    elif kind == "drop_column" and len(fields) > 10:
        fields.pop()
    elif kind == "drop_column":
        fields = fields[:9]
    elif kind == "bad_pos":
        fields[1] = draw(st.sampled_from(["abc", "-5", "1e3"]))
    elif kind == "extra_ploidy":
        fields[9] = "0|1|1"
    elif kind == "junk_separator":
        fields[9] = "0:1"
    lines[row] = "\t".join(fields)
    text = (
        "\n".join(
            [
                *HEADER,
                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
                *lines,
            ]
        )
        + "\n"
    )
    if kind == "truncate":
        text = text[: draw(st.integers(len(text) // 2, len(text) - 2))]
    return text, samples, model, kind


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vcf_text())
def test_genotypes_on_random_vcf_text(data) -> None:
    text, samples, model, kind = data
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = tmp / "f.vcf"
        plain.write_text(text)
        vcf = bgzip(plain)
        tabix(vcf, check=False)  # may fail on broken input
        folder = tmp / "model"
        folder.mkdir()
        variants = VariantList(
            ("1",) * len(model),
            np.array([m[0] for m in model]),
            tuple(m[1] for m in model),
            tuple(m[2] for m in model),
            "fuzz",
        )
        (folder / "variants.tsv").write_text(variants.to_tsv())
        (folder / "model.json").write_text("{}")
        (tmp / "tiles.tsv").write_text(
            f"tile_id\tchrom\tstart\tend\tmodel\nt\t1\t1\t100000\t{folder}\n"
        )
        out = tmp / "g.npz"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "vcf2embed.cli",
                "genotypes",
                "--vcf",
                str(vcf),
                "--tiles",
                str(tmp / "tiles.tsv"),
                "--tile",
                "t",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("vcf2embed genotypes: error: "), (
                proc.stderr
            )
            assert not out.exists()
            if kind == "none":  # valid input fails only when too few model variants are in it
                present = sum(variant_present(vcf, m) for m in model)
                assert "match" in lines[0] and present < MIN_MATCH * len(model), (
                    proc.stderr,
                    present,
                )
            return
        # accepted: bcftools must read the same file and give the same calls
        region = f"1:1-{max(m[0] for m in model)}"
        try:
            names, expected = oracle_alleles(vcf, region, model)
        except subprocess.CalledProcessError:
            # bcftools parses every record of the index bins it visits; tabix (which the reader
            # streams) drops records outside the region unparsed, such as one at POS <= 0
            assert kind == "bad_pos", kind
            return
        got = load_genotypes(out)
        assert got.samples == names
        np.testing.assert_array_equal(got.alleles, expected)
