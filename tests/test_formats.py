"""Biobank formats: PGEN, PLINK 1 BED, BGEN 1.2/1.3 and VCF Zarr, each written from the bundled
example's VCF by a third-party converter (plink2, bio2zarr's vcf2zarr), must give the latent
embeddings the VCF gives, sample by sample. Oracles: the converters and the VCF run."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_vcf

from vcf2embed.embed import model_input
from vcf2embed.errors import InputError
from vcf2embed.forward import compute_activations
from vcf2embed.genotypes import read_tile_genotypes
from vcf2embed.models import load_model
from vcf2embed.tiles import read_tiles

pytestmark = pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 is not installed")


def plink2(*args: str) -> None:
    subprocess.run(["plink2", "--silent", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def converted(example: Path, tmp_path_factory) -> dict[str, Path]:
    """The example cohort in every format."""
    out = tmp_path_factory.mktemp("formats")
    vcf = example / "cohort.vcf.gz"
    # half-calls are missing in vcf2embed, as --vcf-half-call m makes them
    plink2("--vcf", str(vcf), "--vcf-half-call", "m", "--make-pgen", "--out", str(out / "c"))
    plink2("--pfile", str(out / "c"), "--make-pgen", "vzs", "--out", str(out / "z"))
    plink2("--pfile", str(out / "c"), "--make-bed", "--out", str(out / "b"))
    plink2("--pfile", str(out / "c"), "--export", "bgen-1.2", "ref-first", "--out", str(out / "g2"))
    plink2("--pfile", str(out / "c"), "--export", "bgen-1.3", "--out", str(out / "g3"))
    vcf2zarr = Path(sys.executable).parent / "vcf2zarr"
    subprocess.run(
        [str(vcf2zarr), "convert", str(vcf), str(out / "c.vcz"), "-p", "1"],
        check=True,
        capture_output=True,
    )
    # small chunks: a tile spans several variant chunks and every sample chunk is read alone
    subprocess.run(
        [
            str(vcf2zarr),
            "convert",
            str(vcf),
            str(out / "s.vcz"),
            "-p",
            "1",
            "-l",
            "40",
            "-w",
            "100",
        ],
        check=True,
        capture_output=True,
    )
    return {
        "pgen": out / "c.pgen",
        "pgen .pvar.zst": out / "z.pgen",
        "bed": out / "b.bed",
        "bgen 1.2": out / "g2.bgen",
        "bgen 1.3": out / "g3.bgen",
        "vcz": out / "c.vcz",
        "vcz small chunks": out / "s.vcz",
    }


def latents(path: Path, example: Path, samples: list[str] | None = None) -> list[np.ndarray]:
    """Each example tile's latent from one genotype file."""
    out = []
    for tile in read_tiles(example / "tiles.tsv"):
        model = load_model(tile.model)
        g = read_tile_genotypes(path, tile, model.variants, samples)
        acts = compute_activations(model, model_input(model, g), ["latent"], torch.device("cpu"))
        out.append((g.samples, acts[model.latent], g.qc))
    return out


@pytest.fixture(scope="module")
def vcf_latents(example: Path) -> list:
    """The VCF run every format is held to (computed once)."""
    return latents(example / "cohort.vcf.gz", example)


FORMATS = ["pgen", "pgen .pvar.zst", "bed", "bgen 1.2", "bgen 1.3", "vcz", "vcz small chunks"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_embeds_as_the_vcf(fmt: str, converted, vcf_latents, example: Path) -> None:
    expected = vcf_latents
    got = latents(converted[fmt], example)
    for (s1, v1, qc1), (s2, v2, qc2) in zip(expected, got):
        assert s1 == s2
        np.testing.assert_array_equal(v1, v2)  # hard calls: exactly the same
        assert qc2.matched == qc1.matched and qc2.missing_variants == qc1.missing_variants


@pytest.mark.parametrize("fmt", ["pgen", "bed", "bgen 1.2", "vcz", "vcz small chunks"])
def test_samples_subset_and_order_as_for_vcf(fmt: str, converted, example: Path) -> None:
    wanted = ["EUR0003", "AFR0001", "EAS0010"]
    expected = latents(example / "cohort.vcf.gz", example, wanted)[0]
    got = latents(converted[fmt], example, wanted)[0]
    assert got[0] == wanted
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("fmt", ["pgen", "bed"])
def test_plink_calls_equal_pgenlib_alleles(fmt: str, converted, example: Path) -> None:
    """Every call against pgenlib's own allele read of the file (unphased files go through
    ALT counts, another pgenlib call); a .bed holds no phase, so no call may say phased."""
    import pgenlib

    path = converted[fmt]
    tile = read_tiles(example / "tiles.tsv")[1]
    g = read_tile_genotypes(path, tile, load_model(tile.model).variants)
    var_file = path.with_suffix(".pvar" if fmt == "pgen" else ".bim")
    pvar = pgenlib.PvarReader(bytes(var_file))
    reader = pgenlib.PgenReader(bytes(path), raw_sample_ct=len(g.samples), pvar=pvar)
    start, stop = g.source["region"].split(":")[1].split("-")
    numbers = [
        i
        for i in range(pvar.get_variant_ct())
        if int(start) <= pvar.get_variant_pos(i) <= int(stop)
    ]
    alleles = np.empty((len(numbers), 2 * len(g.samples)), dtype=np.int32)
    phased = np.zeros((len(numbers), len(g.samples)), dtype=np.uint8)
    reader.read_alleles_and_phasepresent_list(np.array(numbers, np.uint32), alleles, phased)
    expected = np.maximum(alleles, -1).reshape(len(numbers), -1, 2)
    exact = {
        (
            pvar.get_variant_pos(i),
            pvar.get_allele_code(i, 0).decode(),
            pvar.get_allele_code(i, 1).decode(),
        ): k
        for k, i in enumerate(numbers)
        if pvar.get_allele_ct(i) == 2
    }
    variants = load_model(tile.model).variants
    checked = 0
    for j in range(len(variants)):
        k = exact.get((int(variants.pos[j]), variants.ref[j], variants.alt[j]))
        if k is not None:
            np.testing.assert_array_equal(g.alleles_vm[j], expected[k])
            if fmt == "pgen":
                np.testing.assert_array_equal(g.phased_vm[j], phased[k].astype(bool))
            checked += 1
    assert checked > 0.5 * len(variants)
    if fmt == "bed":
        assert not g.phased_vm.any()


def soft_vcf(path: Path, rng: np.random.Generator) -> Path:
    """Imputed-like records: GP near the hard-call threshold, spread out, or missing."""
    near = [(0.9, 0.1, 0.0), (0.899, 0.101, 0.0), (0.05, 0.9, 0.05), (0.0, 0.1, 0.9)]
    samples = [f"s{i}" for i in range(40)]
    records = []
    for k in range(30):
        cells = []
        for _ in samples:
            roll = rng.random()
            if roll < 0.1:
                cells.append("./.:.")
                continue
            gp = near[int(rng.integers(4))] if roll < 0.5 else tuple(rng.dirichlet([1, 1, 1]))
            gt = ("0/0", "0/1", "1/1")[int(np.argmax(gp))]
            cells.append(f"{gt}:" + ",".join(f"{v:.3f}" for v in gp))
        records.append(f"22\t{1000 + 10 * k}\t.\tA\tG\t.\t.\t.\tGT:GP\t" + "\t".join(cells))
    return write_vcf(path, records, samples, contig="22", formats=("GT", "GP"))


@pytest.mark.parametrize(
    ("export", "bits"), [("bgen-1.2", 8), ("bgen-1.2", 16), ("bgen-1.3", 8), ("bgen-1.3", 16)]
)
@pytest.mark.parametrize("phased", [False, True])
def test_bgen_raw_block_calls_equal_the_package_probabilities(
    export: str, bits: int, phased: bool, tmp_path: Path, monkeypatch
) -> None:
    """Hard calls decoded from the raw genotype blocks (zlib in BGEN 1.2, zstd in 1.3) against
    the `bgen` package's own probabilities of every sample, thresholded here (missing flags,
    values at the threshold)."""
    from bgen import BgenReader

    from vcf2embed.genotypes.sources.bgen import HARD_CALL_MIN, BgenSource

    vcf = soft_vcf(tmp_path / "soft.vcf.gz", np.random.default_rng(bits))
    plink2("--vcf", str(vcf), "dosage=GP", "--make-pgen", "--out", str(tmp_path / "p"))
    source = tmp_path / "p"
    if phased:  # phased hard calls: each haplotype's allele, probability 0 or 1
        plink2(
            "--pfile",
            str(source),
            "--hard-call-threshold",
            "0.1",
            "--make-pgen",
            "erase-dosage",
            "--out",
            str(tmp_path / "h"),
        )
        source = tmp_path / "h"
    plink2("--pfile", str(source), "--export", export, f"bits={bits}", "--out", str(tmp_path / "g"))
    path = tmp_path / "g.bgen"
    reader = BgenSource(path)
    monkeypatch.setattr(reader, "_calls", None)  # the package's probabilities are not used
    region = reader.region_variants("22:1-100000")
    pairs, flags = reader.read_pairs(region.index, None)
    with BgenReader(str(path), delay_parsing=True) as oracle:
        for k, var in enumerate(oracle):
            p = np.asarray(var.probabilities, dtype=np.float64)
            if var.is_phased:
                assert phased
                hap = p.reshape(len(p), 2, 2)
                best, sure = hap.argmax(axis=2), np.nan_to_num(hap.max(axis=2)) >= HARD_CALL_MIN
                expected = np.where(sure, best, -1)
            else:
                called = np.nan_to_num(p.max(axis=1)) >= HARD_CALL_MIN
                expected = np.array([(0, 0), (0, 1), (1, 1)])[p.argmax(axis=1) if len(p) else 0]
                expected[~called] = -1
            np.testing.assert_array_equal(pairs[k], expected)
            assert flags[k].all() == var.is_phased
    assert (pairs == -1).any() and (pairs >= 0).any()


@pytest.mark.parametrize("pvar", [".pvar", ".pvar.zst"])
def test_min_info_r2_from_the_pvar_info_column(pvar: str, tmp_path: Path) -> None:
    """`min_info_r2` on a `.pgen` takes R2 from its `.pvar` (or `.pvar.zst`) INFO (plink2 carries
    the VCF's INFO): the variants below the threshold in `bcftools query` become missing, and
    only they, in a tile that starts after the first records."""
    from htstools import bcftools

    from vcf2embed.tiles import Tile
    from vcf2embed.variants import VariantList

    rng = np.random.default_rng(11)
    samples = [f"s{i}" for i in range(20)]
    records = [
        f"22\t{1000 + 10 * k}\t.\tA\tG\t.\t.\tR2={rng.random():.3f}\tGT\t"
        + "\t".join(("0/0", "0/1", "1/1")[int(g)] for g in rng.integers(0, 3, len(samples)))
        for k in range(25)
    ]
    header = '##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation R2">'
    vcf = write_vcf(
        tmp_path / "r.vcf.gz", records, samples, "22", extra_header=(header,), formats=("GT",)
    )
    plink2(
        "--vcf",
        str(vcf),
        "--make-pgen",
        *(["vzs"] if pvar.endswith("zst") else []),
        "--out",
        str(tmp_path / "r"),
    )
    assert (tmp_path / f"r{pvar}").is_file()
    rows = [
        line.split("\t")
        for line in bcftools("query", "-f", "%POS\t%INFO/R2\n", str(vcf)).split("\n")
        if line
    ]
    rows = rows[3:]  # the tile: records 4 to 25
    low = {int(pos) for pos, r2 in rows if float(r2) < 0.5}
    assert 0 < len(low) < len(rows)
    pos = np.array([int(p) for p, _ in rows])
    variants = VariantList(("22",) * len(pos), pos, ("A",) * len(pos), ("G",) * len(pos), "t")
    tile = Tile("t", "22", int(pos[0]), 10**6, None)
    g = read_tile_genotypes(tmp_path / "r.pgen", tile, variants, min_info_r2=0.5)
    assert g.qc.low_info_variants == len(low)
    dropped = {int(p) for p, a in zip(pos, g.alleles_vm) if (a == -1).all()}
    assert dropped == low


def test_vcz_dosage_and_gp_from_call_ds_and_call_gp(tmp_path: Path) -> None:
    """`call_DS` and `call_GP` of a VCF Zarr store (vcf2zarr from a `GT:DS:GP` VCF) against the
    VCF's DS and the expected dosage GP1 + 2 GP2 computed from `bcftools query` output."""
    from htstools import bcftools

    from vcf2embed.tiles import Tile
    from vcf2embed.variants import VariantList

    rng = np.random.default_rng(5)
    samples = [f"s{i}" for i in range(15)]
    records = []
    for k in range(12):
        cells = []
        for _ in samples:
            if rng.random() < 0.1:
                cells.append("./.:.:.")
                continue
            gp = np.round(rng.dirichlet([1, 1, 1]), 3)
            gp[1] = round(1 - gp[0] - gp[2], 3)
            gt = ("0/0", "0/1", "1/1")[int(gp.argmax())]
            text = ",".join(f"{v:.3f}" for v in gp)
            cells.append(f"{gt}:{gp[1] + 2 * gp[2]:.3f}:{text}")
        records.append(f"22\t{500 + 7 * k}\t.\tC\tT\t.\t.\t.\tGT:DS:GP\t" + "\t".join(cells))
    vcf = write_vcf(tmp_path / "d.vcf.gz", records, samples, "22")
    store = tmp_path / "d.vcz"
    vcf2zarr = Path(sys.executable).parent / "vcf2zarr"
    subprocess.run(
        [str(vcf2zarr), "convert", str(vcf), str(store), "-p", "1"], check=True, capture_output=True
    )
    query = bcftools("query", "-f", "[%DS\t%GP\n]", str(vcf))
    ds, gp = [], []
    for line in query.splitlines():
        d, g = line.split("\t")
        ds.append(np.nan if d == "." else float(d))
        p = [np.nan] * 3 if g == "." else [float(x) for x in g.split(",")]
        gp.append(p[1] + 2 * p[2])
    shape = (len(records), len(samples))  # variant-major, as bcftools prints them
    expected_ds = np.array(ds, dtype=np.float32).reshape(shape).T
    expected_gp = np.array(gp, dtype=np.float32).reshape(shape).T
    pos = np.array([500 + 7 * k for k in range(12)])
    variants = VariantList(("22",) * 12, pos, ("C",) * 12, ("T",) * 12, "t")
    tile = Tile("t", "22", 1, 10**6, None)
    for field, expected in (("DS", expected_ds), ("GP", expected_gp)):
        got = read_tile_genotypes(store, tile, variants, genotype_field=field)
        assert got.source["reader"] == "vcz"
        np.testing.assert_allclose(got.dosage, expected, rtol=0, atol=1e-5)
        assert np.isnan(got.dosage).sum() == np.isnan(expected).sum() > 0


def test_vcz_region_index_finds_the_same_variants_reading_fewer_rows(
    converted, example: Path, tmp_path: Path, monkeypatch
) -> None:
    """A tile's variants found through vcf2zarr's `region_index` equal those found by reading
    every row (a store without the index), for every tile, for empty regions before and after
    the records and for one across a chunk boundary; with the index, only the region's chunks
    of `variant_position` are read."""
    from vcf2embed.genotypes.sources.vcz import VczSource

    store = converted["vcz small chunks"]
    bare = tmp_path / "bare.vcz"
    shutil.copytree(store, bare)
    shutil.rmtree(bare / "region_index")
    indexed, unindexed = VczSource(store), VczSource(bare)
    assert "region_index" in indexed.names and "region_index" not in unindexed.names
    spans = [(t.start, t.end) for t in read_tiles(example / "tiles.tsv")]
    pos = indexed.root["variant_position"][:]
    spans += [(1, int(pos[0]) - 1), (int(pos[-1]) + 1, 10**9), (int(pos[40]), int(pos[41]))]
    read: list[slice] = []
    original = VczSource._array
    monkeypatch.setattr(
        VczSource,
        "_array",
        lambda self, name, index=slice(None): (
            read.append(index) if name == "variant_position" else None,
            original(self, name, index),
        )[1],
    )
    for lo, hi in spans:
        read.clear()
        a = indexed.region_variants(f"22:{lo}-{hi}")
        rows = sum(len(range(*r.indices(len(pos)))) for r in read)
        b = unindexed.region_variants(f"22:{lo}-{hi}")
        np.testing.assert_array_equal(a.pos, b.pos)
        np.testing.assert_array_equal(a.index, b.index)
        assert a.alleles == b.alleles
        assert np.all((a.pos >= lo) & (a.pos <= hi))
        assert len(a.pos) == np.count_nonzero((pos >= lo) & (pos <= hi))
        assert rows <= len(a.pos) + 2 * 40  # the region's chunks of 40 variants only
    assert rows < len(pos)


def test_vcz_exact_record_wins_over_an_earlier_multiallelic_one(tmp_path: Path) -> None:
    """A variant held by a multi-allelic record and, later in the file, by its exact biallelic
    record takes the exact one's calls (as the VCF readers do); `bcftools query` is the oracle."""
    from htstools import bcftools

    from vcf2embed.tiles import Tile
    from vcf2embed.variants import VariantList

    rng = np.random.default_rng(2)
    samples = [f"s{i}" for i in range(10)]
    calls = [["0/1", "1/2", "0/0", "2/2", "1/1"], ["0/0", "0/1", "1/1", "./.", "0|1"]]
    records = [
        f"22\t{pos}\t.\tA\t{alt}\t.\t.\t.\tGT\t" + "\t".join(rng.choice(choices) for _ in samples)
        for pos, alt, choices in [
            (100, "G,T", calls[0]),
            (100, "G", calls[1]),
            (150, "C", calls[1]),
        ]
    ]
    vcf = write_vcf(tmp_path / "m.vcf.gz", records, samples, "22", formats=("GT",))
    store = tmp_path / "m.vcz"
    vcf2zarr = Path(sys.executable).parent / "vcf2zarr"
    subprocess.run(
        [str(vcf2zarr), "convert", str(vcf), str(store), "-p", "1"], check=True, capture_output=True
    )
    variants = VariantList(("22",) * 2, np.array([100, 150]), ("A", "A"), ("G", "C"), "t")
    g = read_tile_genotypes(store, Tile("t", "22", 1, 1000, None), variants)
    exact = bcftools("query", "-i", "POS=100 && N_ALT=1", "-f", "[%GT\t]", str(vcf)).split()
    expected = [
        [-1, -1] if "." in gt else [int(a) for a in gt.replace("|", "/").split("/")] for gt in exact
    ]
    np.testing.assert_array_equal(g.alleles_vm[0], expected)
    assert g.qc.matched_exact == 2 and g.qc.matched_multiallelic == 0


def test_bgen_dosage_and_gp_from_probabilities(converted, example: Path) -> None:
    tile = read_tiles(example / "tiles.tsv")[0]
    variants = load_model(tile.model).variants
    hard = read_tile_genotypes(example / "cohort.vcf.gz", tile, variants)
    ds = read_tile_genotypes(converted["bgen 1.2"], tile, variants, genotype_field="DS").dosage
    gp = read_tile_genotypes(converted["bgen 1.2"], tile, variants, genotype_field="GP").dosage
    counts = hard.alleles.sum(axis=2).astype(np.float32)
    counts[(hard.alleles < 0).any(axis=2)] = np.nan
    np.testing.assert_array_equal(ds, counts)  # 0/1 probabilities: the hard calls' counts
    np.testing.assert_array_equal(gp, counts)


def test_bgen_index_is_used_when_present(converted, example: Path, tmp_path: Path) -> None:
    from bgen import BgenReader

    bgen = tmp_path / "i.bgen"
    shutil.copyfile(converted["bgen 1.2"], bgen)
    with BgenReader(str(bgen), delay_parsing=False) as reader:
        rows = [(v.chrom, v.pos, v.rsid, v.fileoffset) for v in reader]
    with sqlite3.connect(f"{bgen}.bgi") as db:  # bgenix's index table
        db.execute(
            "CREATE TABLE Variant (chromosome TEXT, position INT, rsid TEXT, number_of_alleles "
            "INT, allele1 TEXT, allele2 TEXT, file_start_position INT, size_in_bytes INT)"
        )
        db.executemany(
            "INSERT INTO Variant VALUES (?, ?, ?, 2, '', '', ?, 0)", [tuple(r) for r in rows]
        )
    got = latents(bgen, example)
    expected = latents(converted["bgen 1.2"], example)
    for (_, v1, _), (_, v2, _) in zip(expected, got):
        np.testing.assert_array_equal(v1, v2)


def test_sample_count_mismatch_is_named(converted, tmp_path: Path, example: Path) -> None:
    for suffixes, sample_file in (((".pgen", ".pvar"), ".psam"), ((".bed", ".bim"), ".fam")):
        stem = converted["pgen" if ".pgen" in suffixes else "bed"].with_suffix("")
        for s in suffixes:
            shutil.copyfile(f"{stem}{s}", tmp_path / f"x{s}")
        lines = Path(f"{stem}{sample_file}").read_text().splitlines()
        (tmp_path / f"x{sample_file}").write_text("\n".join(lines[:-5]) + "\n")
        tile = read_tiles(example / "tiles.tsv")[0]
        with pytest.raises(InputError, match=sample_file[1:]):
            read_tile_genotypes(tmp_path / f"x{suffixes[0]}", tile, load_model(tile.model).variants)


def test_missing_companion_and_truncated_file(converted, tmp_path: Path, example: Path) -> None:
    tile = read_tiles(example / "tiles.tsv")[0]
    variants = load_model(tile.model).variants
    shutil.copyfile(converted["pgen"], tmp_path / "y.pgen")
    shutil.copyfile(converted["pgen"].with_suffix(".psam"), tmp_path / "y.psam")
    with pytest.raises(InputError, match=r"y\.pvar or .*y\.pvar\.zst"):
        read_tile_genotypes(tmp_path / "y.pgen", tile, variants)
    shutil.copyfile(converted["pgen"].with_suffix(".pvar"), tmp_path / "y.pvar")
    data = converted["pgen"].read_bytes()
    (tmp_path / "y.pgen").write_bytes(data[: len(data) // 2])
    last = read_tiles(example / "tiles.tsv")[-1]  # its records lie in the missing half
    with pytest.raises(InputError, match="y.pgen: cannot be read .* truncated"):
        read_tile_genotypes(tmp_path / "y.pgen", last, load_model(last.model).variants)


@pytest.mark.parametrize("fmt", ["bgen 1.2", "bgen 1.3"])
def test_damaged_bgen_block_is_named(fmt: str, converted, tmp_path: Path, example: Path) -> None:
    """A genotype block whose compressed bytes are damaged (zlib in 1.2, zstd in 1.3): one error
    naming the file and the variant."""
    from bgen import BgenReader

    tile = read_tiles(example / "tiles.tsv")[0]
    variants = load_model(tile.model).variants
    with BgenReader(str(converted[fmt]), delay_parsing=False) as reader:
        var = next(v for v in reader if tile.start <= v.pos <= tile.end)
        start, end = var.fileoffset, var.next_variant_offset
    data = bytearray(converted[fmt].read_bytes())
    middle = end - (end - start) // 3  # inside the compressed genotype block
    data[middle : middle + 16] = bytes(16)
    damaged = tmp_path / "d.bgen"
    damaged.write_bytes(bytes(data))
    shutil.copyfile(converted[fmt].with_suffix(".sample"), tmp_path / "d.sample")
    with pytest.raises(InputError, match=rf"d\.bgen: variant 22:{var.pos} cannot be decoded"):
        read_tile_genotypes(damaged, tile, variants)


def test_unreadable_zarr_array_is_named(converted, tmp_path: Path, example: Path) -> None:
    store = tmp_path / "broken.vcz"
    shutil.copytree(converted["vcz"], store)
    for chunk in (store / "call_genotype").rglob("*"):
        if chunk.is_file() and chunk.name[0].isdigit() or chunk.parent.name == "c":
            chunk.write_bytes(b"not a chunk")
    tile = read_tiles(example / "tiles.tsv")[0]
    with pytest.raises(InputError, match="call_genotype"):
        read_tile_genotypes(store, tile, load_model(tile.model).variants)


def test_iids_of_psam_and_fam_layouts(tmp_path: Path) -> None:
    """IIDs by the header's column (after `##` lines), the second column of a `.fam`, and one
    error naming the line that has no IID."""
    from vcf2embed.genotypes.sources.plink import read_iids

    cases = {
        "a.psam": "##comment\n#FID\tIID\tSEX\nf1\ts1\t1\nf2\ts2\t2\n",
        "b.psam": "#IID\tSEX\ns1\tNA\ns2\tNA",  # no final newline
        "c.fam": "f1 s1 0 0 1 -9\nf2\ts2\t0\t0\t2\t-9\n\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert read_iids(tmp_path / name) == ["s1", "s2"], name
    (tmp_path / "d.fam").write_text("f1 s1 0 0 1 -9\nf2\n")
    with pytest.raises(InputError, match=r"d\.fam, line 2: expected an IID in column 2"):
        read_iids(tmp_path / "d.fam")
    (tmp_path / "e.psam").write_text("#FID\tSEX\nf1\t1\n")
    with pytest.raises(InputError, match=r"e\.psam, line 1: the header has no IID"):
        read_iids(tmp_path / "e.psam")


def bgen_value_pairs(bits: int) -> np.ndarray:
    """(pairs, 2) stored values: every pair of 8-bit values; for 16 bits, every pair of values
    at and around both thresholds, the ends and the middle."""
    from vcf2embed.genotypes.sources.bgen import HARD_CALL_MIN
    from vcf2embed.genotypes.sources.bgen_layout2 import call_threshold

    top = (1 << bits) - 1
    if bits == 8:
        values = np.arange(top + 1)
    else:
        t = call_threshold(bits, HARD_CALL_MIN)
        edges = [0, t, top - t, top // 2, top]
        values = np.unique(np.clip(np.add.outer(edges, np.arange(-3, 4)).ravel(), 0, top))
    first, second = np.meshgrid(values, values, indexing="ij")
    return np.stack([first.ravel(), second.ravel()], axis=1)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("phased", [False, True])
def test_bgen_calls_of_every_value_pair(phased: bool, bits: int) -> None:
    """Pairs of stored values of a sample (every pair at 8 bits), called from the raw block,
    against the probabilities thresholded as floats (the `bgen` package divides by 2^bits - 1)."""
    import struct

    from vcf2embed.genotypes.sources.bgen import HARD_CALL_MIN
    from vcf2embed.genotypes.sources.bgen_layout2 import hard_calls

    top = (1 << bits) - 1
    values = bgen_value_pairs(bits)
    if not phased:  # P(1/1) is the rest
        values = values[values.sum(axis=1) <= top]
    n = len(values)
    ploidy = np.full(n, 2, dtype=np.uint8)
    ploidy[::97] |= 0x80  # the missing flag
    block = struct.pack("<IHBB", n, 2, 2, 2) + ploidy.tobytes() + bytes([phased, bits])
    pairs, flags = np.empty((n, 2), np.int8), np.empty(n, bool)
    stored = values.astype(f"<u{bits // 8}").tobytes()
    assert hard_calls(block + stored, n, HARD_CALL_MIN, pairs, flags)
    p = values / top
    if phased:  # each haplotype: P(allele 0), allele 1 the rest
        hap = np.stack([p, 1 - p], axis=2)
        expected = np.where(hap.max(axis=2) >= HARD_CALL_MIN, hap.argmax(axis=2), -1)
    else:
        g = np.column_stack([p, 1 - p.sum(axis=1)])
        expected = np.array([(0, 0), (0, 1), (1, 1)])[g.argmax(axis=1)]
        expected[g.max(axis=1) < HARD_CALL_MIN] = -1
    expected[ploidy >= 0x80] = -1
    np.testing.assert_array_equal(pairs, expected)
    assert flags.all() == phased and (pairs == -1).any() and (pairs >= 0).any()


@pytest.mark.parametrize("fmt", FORMATS)
def test_helper_thread_gives_the_same_genotypes(
    fmt: str, converted, example: Path, monkeypatch
) -> None:
    """Converting beside the reads (threads=2), in many small blocks and sample slabs, gives
    the calls, phases and QC counts of the plain read, with all samples and with a subset."""
    from vcf2embed.genotypes.sources import variant_table

    for samples in (None, ["EUR0003", "AFR0001", "EAS0010"]):
        for tile in read_tiles(example / "tiles.tsv"):
            variants = load_model(tile.model).variants
            plain = read_tile_genotypes(converted[fmt], tile, variants, samples)
            with monkeypatch.context() as m:
                m.setattr(variant_table, "CACHE_BLOCK_BYTES", 256)
                m.setattr(variant_table, "SPAN_BYTES", 4096)
                beside = read_tile_genotypes(converted[fmt], tile, variants, samples, threads=2)
            np.testing.assert_array_equal(beside.alleles_vm, plain.alleles_vm)
            np.testing.assert_array_equal(beside.phased_vm, plain.phased_vm)
            assert beside.qc == plain.qc


@pytest.mark.parametrize("threads", [1, 2])
def test_vcz_records_decoded_into_rows_with_others_between(
    threads: int, tmp_path: Path, monkeypatch
) -> None:
    """Biallelic records decoded straight into the tile's rows while the rows between them go
    to a multi-allelic record and to a variant no record supplies (which must end missing, not
    hold the decoded calls of the record at its position): the VCF reader is the oracle."""
    from vcf2embed.genotypes.sources import variant_table
    from vcf2embed.tiles import Tile
    from vcf2embed.variants import VariantList

    rng = np.random.default_rng(3)
    samples = [f"s{i}" for i in range(30)]
    choices = ["0/0", "0/1", "1/1", "./.", "1|0", "0|1", "1/2", "2/2"]
    records = [
        f"22\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\tGT\t"
        + "\t".join(rng.choice(choices[: 8 if "," in alt else 6]) for _ in samples)
        for pos, ref, alt in [
            (100, "A", "G"),
            (110, "A", "G,T"),
            (120, "A", "C"),  # the model's variant here is A>T: no record supplies it
            (130, "C", "A"),  # swapped
            (140, "G", "A"),
        ]
    ]
    vcf = write_vcf(tmp_path / "g.vcf.gz", records, samples, "22", formats=("GT",))
    store = tmp_path / "g.vcz"
    vcf2zarr = Path(sys.executable).parent / "vcf2zarr"
    subprocess.run(
        [str(vcf2zarr), "convert", str(vcf), str(store), "-p", "1", "-w", "8"],
        check=True,
        capture_output=True,
    )
    variants = VariantList(
        ("22",) * 5,
        np.array([100, 110, 120, 130, 140]),
        ("A", "A", "A", "A", "G"),
        ("G", "T", "T", "C", "A"),
        "t",
    )
    tile = Tile("t", "22", 1, 1000, None)
    expected = read_tile_genotypes(vcf, tile, variants, min_variant_match=0.0)
    monkeypatch.setattr(variant_table, "SPAN_BYTES", 64)  # one sample chunk at a time
    got = read_tile_genotypes(store, tile, variants, min_variant_match=0.0, threads=threads)
    np.testing.assert_array_equal(got.alleles_vm, expected.alleles_vm)
    np.testing.assert_array_equal(got.phased_vm, expected.phased_vm)
    assert got.qc == expected.qc
    assert (got.alleles_vm[2] == -1).all() and got.qc.missing_variants == 1
    assert got.qc.matched_swapped == 1 and got.qc.matched_multiallelic == 1


@pytest.mark.parametrize("indexed", [True, False])
def test_bgen_with_zero_padded_chromosomes_as_uk_biobank_writes_them(
    indexed: bool, tmp_path: Path
) -> None:
    """A BGEN whose chromosome 1 is `01` (UK Biobank's files and their `.bgi`), written by the
    `bgen` package (which indexes it) with 8-bit unphased probabilities and a `.sample` file,
    read for a tile on `1` and on `chr1`, with and without its `.bgi`; the calls are those its
    probabilities give (the package reads them)."""
    from bgen import BgenReader
    from bgen.writer import BgenWriter

    from vcf2embed.genotypes.sources.bgen import HARD_CALL_MIN
    from vcf2embed.tiles import Tile
    from vcf2embed.variants import VariantList

    rng = np.random.default_rng(5)
    n, pos = 40, [1000, 2000, 3000]
    path = tmp_path / "ukb_c1.bgen"
    with BgenWriter(path, n, compression="zlib") as writer:
        for p in pos:
            probs = rng.dirichlet([0.3, 0.3, 0.3], size=n)
            probs[: n // 2] = np.eye(3)[rng.integers(0, 3, n // 2)]  # sure calls
            writer.add_variant(f"v{p}", f"rs{p}", "01", p, ["A", "G"], probs, bit_depth=8)
    if not indexed:
        Path(f"{path}.bgi").unlink()
    (tmp_path / "ukb_c1.sample").write_text(
        "ID_1 ID_2 missing\n0 0 0\n" + "".join(f"f{i} s{i} 0\n" for i in range(n))
    )
    variants = VariantList(("1",) * 3, np.array(pos), ("A",) * 3, ("G",) * 3, "t")
    with BgenReader(str(path), delay_parsing=True) as oracle:
        p = np.stack([np.asarray(var.probabilities) for var in oracle])
    expected = np.array([(0, 0), (0, 1), (1, 1)])[p.argmax(axis=2)]
    expected[p.max(axis=2) < HARD_CALL_MIN] = -1
    for chrom in ("1", "chr1"):
        g = read_tile_genotypes(path, Tile("t", chrom, 1, 5000, None), variants)
        assert g.samples == [f"s{i}" for i in range(n)] and g.qc.matched == 3
        np.testing.assert_array_equal(g.alleles_vm, expected)


def test_bgen_haploid_samples_between_diploid_blocks(tmp_path: Path) -> None:
    """A variant with haploid samples (read through the package's probabilities) between
    diploid ones (read from the raw blocks): its haploid calls are homozygous and counted, as
    the probabilities give them."""
    from bgen import BgenReader
    from bgen.writer import BgenWriter

    from vcf2embed.genotypes.sources.bgen import HARD_CALL_MIN
    from vcf2embed.tiles import Tile
    from vcf2embed.variants import VariantList

    rng = np.random.default_rng(6)
    n, pos, haploid = 30, [100, 200, 300], np.arange(30) < 10
    path = tmp_path / "x.bgen"
    with BgenWriter(path, n, samples=[f"s{i}" for i in range(n)], compression="zlib") as writer:
        for p in pos:
            probs = np.eye(3)[rng.integers(0, 3, n)]
            probs[n - 3 :] = 1 / 3  # uncertain: missing
            ploidy = np.where(haploid, 1, 2) if p == 200 else 2
            if p == 200:
                probs[haploid] = np.column_stack([np.eye(2)[rng.integers(0, 2, 10)], [np.nan] * 10])
            writer.add_variant(f"v{p}", f"rs{p}", "22", p, ["A", "G"], probs, ploidy=ploidy)
    variants = VariantList(("22",) * 3, np.array(pos), ("A",) * 3, ("G",) * 3, "t")
    g = read_tile_genotypes(path, Tile("t", "22", 1, 1000, None), variants)
    with BgenReader(str(path), delay_parsing=True) as oracle:
        for k, var in enumerate(oracle):
            p = np.nan_to_num(np.asarray(var.probabilities, dtype=np.float64), nan=-1)
            expected = np.array([(0, 0), (0, 1), (1, 1)])[p[:, :3].argmax(axis=1)]
            if k == 1:
                expected[haploid] = np.repeat(p[haploid, :2].argmax(axis=1)[:, None], 2, axis=1)
            expected[p.max(axis=1) < HARD_CALL_MIN] = -1
            np.testing.assert_array_equal(g.alleles_vm[k], expected)
    assert g.qc.calls_haploid == 10 and g.phased_vm[1, haploid].all()
