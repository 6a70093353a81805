"""Nothing lost and nothing silent: every bad input gives one clear error line and no output.

FAILURES below is the list the README's "Failure behaviour" table is checked against.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import snakemake_command, venv_env, write_vcf
from htstools import bgzip, bgzip_bytes, tabix, vcf_to_bcf

from vcf2embed.architectures import LabAutoencoder
from vcf2embed.models import save_bundle
from vcf2embed.variants import VariantList

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ["a", "b", "c", "d"]
RECORDS = [
    f"1\t{100 * i}\t.\tA\tG\t.\t.\t.\tGT\t0|0\t0|1\t1|1\t{'./.' if i == 3 else '1|0'}"
    for i in range(1, 7)
]

# (case id, what is wrong, what the user sees: a fragment of the one error line)
FAILURES = [
    ("truncated_bgzip", "VCF.gz cut short (truncated bgzip)", "truncated or damaged bgzip"),
    ("truncated_bcf", "BCF cut short", "bcftools view -Ob"),
    ("not_vcf", "a file that is not VCF", "cannot be read as VCF"),
    ("no_index", "VCF without .tbi/.csi index", "has no index"),
    ("stale_index", "index older than the VCF", "is older than"),
    ("corrupt_index", "corrupt index file", "index cannot be read"),
    ("no_gt_field", "no FORMAT/GT (or the chosen DS/GP) field", "declares no FORMAT/GT"),
    ("duplicate_vcf_samples", "duplicate sample IDs in the VCF", "appears more than once"),
    ("unknown_samples", "samples file with IDs not in the VCF", "are not in"),
    ("duplicate_samples_file", "samples file listing an ID twice", "is listed twice"),
    ("empty_region", "no records in the tile's region", "no records in this region"),
    ("tiles_duplicate_id", "tile table with a duplicate tile_id", "duplicate tile_id"),
    (
        "tiles_end_before_start",
        "tile whose end is before its start",
        "end must not be before start",
    ),
    ("tiles_unknown_contig", "tile on a contig the VCF lacks", "is not in the genotype file"),
    ("tiles_missing_model", "tile whose model path does not exist", "does not exist"),
    ("weights_misfit", "model weights that do not fit its variant list", "inputs but"),
    ("pickle_payload", "a .pth whose unpickling would run code", "refused to load"),
    ("param_code", "a _param.py with code instead of assignments", "only assignments"),
    ("nan_activations", "weights that give NaN or infinite activations", "gave NaN or infinite"),
    ("malformed_gt", "a genotype allele that is not a number, such as 0/x", "is malformed"),
    ("missing_columns", "a record with fewer sample columns than the header", "sample columns"),
    ("disk_full", "an output that cannot be written (disk full, no space)", "cannot write"),
    ("bad_config", "a config value that breaks the schema", "is less than the minimum of 1"),
]


def cli(*args: str, cwd: Path | None = None, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vcf2embed.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        preexec_fn=preexec,
    )


def bundle(folder: Path, positions: list[int], chrom: str = "1", nan: bool = False) -> Path:
    variants = VariantList(
        (chrom,) * len(positions),
        np.array(positions),
        ("A",) * len(positions),
        ("G",) * len(positions),
        "t",
    )
    width = 2 * len(positions)
    torch.manual_seed(0)
    module = LabAutoencoder(width, width, 2, 0.5)
    if nan:
        with torch.no_grad():
            module.encoder[0].weight[0, 0] = float("inf")
            module.encoder[0].bias[0] = float("-inf")
    arch = {"name": "lab_autoencoder", "ni": width, "no": width, "n_layers": 2, "size_ratio": 0.5}
    return save_bundle(folder, module, variants, arch)


@pytest.fixture
def setup(tmp_path: Path):
    """A small valid cohort, model and tile table; each case breaks one thing."""
    vcf = write_vcf(tmp_path / "c.vcf.gz", RECORDS, SAMPLES)
    model = bundle(tmp_path / "model", [100, 200, 300, 400, 500, 600])
    tiles = tmp_path / "tiles.tsv"
    tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\nt1\t1\t1\t1000\t{model}\n")
    return tmp_path, vcf, model, tiles


def genotypes(tmp: Path, vcf: Path, tiles: Path, *extra: str, out: str = "g.npz"):
    return cli(
        "genotypes",
        "--vcf",
        str(vcf),
        "--tiles",
        str(tiles),
        "--tile",
        "t1",
        "--out",
        str(tmp / out),
        *extra,
    )


def assert_one_error(proc: subprocess.CompletedProcess, fragment: str, *names: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "error:" in lines[0]
    assert fragment in lines[0], lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])


def no_outputs(folder: Path, pattern: str = "*") -> None:
    finals = [
        p
        for p in folder.rglob(pattern)
        if p.suffix in (".npz", ".parquet") or p.name.endswith(".json")
    ]
    assert finals == [], finals
    assert not list(folder.rglob(".*.tmp"))


def run_case(
    case: str, tmp: Path, vcf: Path, model: Path, tiles: Path
) -> tuple[subprocess.CompletedProcess, tuple[str, ...]]:
    """Break one thing and run the command a user would run."""
    if case == "truncated_bgzip":
        data = vcf.read_bytes()
        vcf.write_bytes(data[: len(data) // 2])
        os.utime(vcf.with_name(vcf.name + ".tbi"))
        return genotypes(tmp, vcf, tiles), (vcf.name,)
    if case == "truncated_bcf":
        bcf = tmp / "cohort.bcf"
        vcf_to_bcf(vcf, bcf)
        data = bcf.read_bytes()
        bcf.write_bytes(data[: len(data) // 2])
        os.utime(bcf.with_name(bcf.name + ".csi"))
        return genotypes(tmp, bcf, tiles), (bcf.name, "truncated")
    if case == "not_vcf":
        # BGZF, so that it is the content that is wrong (plain gzip has its own advice)
        bgzip_bytes(b"this is not a VCF\n", vcf)
        os.utime(vcf.with_name(vcf.name + ".tbi"))
        return genotypes(tmp, vcf, tiles), (vcf.name,)
    if case == "no_index":
        vcf.with_name(vcf.name + ".tbi").unlink()
        return genotypes(tmp, vcf, tiles), (vcf.name, "bcftools index")
    if case == "stale_index":
        index = vcf.with_name(vcf.name + ".tbi")
        os.utime(index, (index.stat().st_mtime - 3600,) * 2)
        return genotypes(tmp, vcf, tiles), (index.name,)
    if case == "corrupt_index":
        index = vcf.with_name(vcf.name + ".tbi")
        index.write_bytes(b"\x00" * 64)
        return genotypes(tmp, vcf, tiles), (vcf.name,)
    if case == "no_gt_field":
        records = [
            r.replace("\tGT\t", "\tDS\t")
            .replace("0|0", "0")
            .replace("0|1", "1")
            .replace("1|1", "2")
            .replace("1|0", "1")
            .replace("./.", ".")
            for r in RECORDS
        ]
        vcf = write_vcf(tmp / "ds.vcf.gz", records, SAMPLES, extra_header=())
        text = (
            gzip.decompress(vcf.read_bytes())
            .decode()
            .replace('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n', "")
        )
        plain = tmp / "ds.vcf"
        plain.write_text(text)
        tabix(bgzip(plain))
        return genotypes(tmp, vcf, tiles), (vcf.name,)
    if case == "duplicate_vcf_samples":
        vcf = write_vcf(tmp / "dup.vcf.gz", RECORDS, ["a", "b", "a", "d"])
        return genotypes(tmp, vcf, tiles), ("'a'",)
    if case == "unknown_samples":
        (tmp / "s.txt").write_text("a\nzed\n")
        return genotypes(tmp, vcf, tiles, "--samples", str(tmp / "s.txt")), ("zed",)
    if case == "duplicate_samples_file":
        (tmp / "s.txt").write_text("a\nb\na\n")
        return genotypes(tmp, vcf, tiles, "--samples", str(tmp / "s.txt")), ("s.txt", "'a'")
    if case == "empty_region":
        far = bundle(tmp / "far", [90_000, 90_100])
        tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\nt1\t1\t1\t100000\t{far}\n")
        return genotypes(tmp, vcf, tiles), ("t1", vcf.name)
    if case == "tiles_duplicate_id":
        tiles.write_text(tiles.read_text() + f"t1\t1\t1\t1000\t{model}\n")
        return genotypes(tmp, vcf, tiles), (tiles.name, "line 3")
    if case == "tiles_end_before_start":
        tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\nt1\t1\t900\t100\t{model}\n")
        return genotypes(tmp, vcf, tiles), (tiles.name, "line 2")
    if case == "tiles_unknown_contig":
        tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\nt1\t7\t1\t1000\t{model}\n")
        return genotypes(tmp, vcf, tiles), (vcf.name, "contig 7")
    if case == "tiles_missing_model":
        tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\nt1\t1\t1\t1000\t{tmp / 'nope'}\n")
        return genotypes(tmp, vcf, tiles), ("nope",)
    if case in ("weights_misfit", "pickle_payload", "param_code", "nan_activations"):
        assert genotypes(tmp, vcf, tiles).returncode == 0
        if case == "weights_misfit":
            (model / "variants.tsv").write_text(
                "chrom\tpos\tref\talt\n" + "".join(f"1\t{p}\tA\tG\n" for p in (100, 200, 300))
            )
            assert genotypes(tmp, vcf, tiles, out="g3.npz").returncode == 0
            return embed(tmp, tiles, "g3.npz"), (str(model.name),)
        if case == "nan_activations":
            bundle(model, [100, 200, 300, 400, 500, 600], nan=True)
            return embed(tmp, tiles), ("encoder",)
        lab = tmp / "lab"
        lab.mkdir()
        (lab / "m.pos").write_text(
            "".join(f"1\t{p}\t.\tA\tG\n" for p in (100, 200, 300, 400, 500, 600))
        )
        (lab / "m_param.py").write_text("n_layers = 2\nsize_ratio = 0.5\nactivation = 'relu'\n")
        torch.save(LabAutoencoder(12, 12, 2, 0.5).state_dict(), lab / "m.pth")
        tiles.write_text(f"tile_id\tchrom\tstart\tend\tmodel\nt1\t1\t1\t1000\t{lab / 'm.pth'}\n")
        marker = tmp / "pwned"
        if case == "pickle_payload":
            payload = textwrap.dedent(
                f"""
                import os, torch
                class P:
                    def __reduce__(self):
                        return (os.system, ("touch {marker}",))
                torch.save({{"encoder.0.weight": P()}}, "{lab / "m.pth"}")
                """
            )
            subprocess.run([sys.executable, "-c", payload], check=True)
            names = ("m.pth",)
        else:
            (lab / "m_param.py").write_text(
                f"n_layers = 2\nimport os\nos.system('touch {marker}')\n"
            )
            names = ("m_param.py", "line 2")
        proc = embed(tmp, tiles)
        assert not marker.exists(), "a model file ran code"
        return proc, names
    if case == "malformed_gt":
        bad = RECORDS[:2] + [RECORDS[2].replace("1|1", "1|x")] + RECORDS[3:]
        vcf = write_vcf(tmp / "bad.vcf.gz", bad, SAMPLES, formats=("GT",))
        return genotypes(tmp, vcf, tiles), ("1:300",)
    if case == "missing_columns":
        bad = RECORDS[:2] + [RECORDS[2].rsplit("\t", 1)[0]] + RECORDS[3:]
        vcf = write_vcf(tmp / "bad.vcf.gz", bad, SAMPLES, formats=("GT",))
        return genotypes(tmp, vcf, tiles), ("1:300",)
    if case == "disk_full":
        import resource

        def limit() -> None:  # writes beyond 256 bytes fail as they do on a full disk
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))

        big = write_vcf(tmp / "big.vcf.gz", RECORDS, SAMPLES)
        proc = cli(
            "genotypes",
            "--vcf",
            str(big),
            "--tiles",
            str(tiles),
            "--tile",
            "t1",
            "--out",
            str(tmp / "g.npz"),
            preexec=limit,
        )
        return proc, ("g.npz",)
    if case == "bad_config":
        (tmp / "cfg.yaml").write_text(f"vcf: {vcf}\ntiles: {tiles}\nbatch_size: 0\n")
        from test_workflow import snakemake

        proc = snakemake(tmp, "--configfile", "cfg.yaml", "--cores", "1")
        return proc, ("batch_size",)
    raise AssertionError(case)


def embed(tmp: Path, tiles: Path, npz: str = "g.npz") -> subprocess.CompletedProcess:
    return cli(
        "embed",
        "--genotypes",
        str(tmp / npz),
        "--tiles",
        str(tiles),
        "--tile",
        "t1",
        "--device",
        "cpu",
        "--outdir",
        str(tmp / "out"),
    )


@pytest.mark.parametrize("case", [c[0] for c in FAILURES])
def test_bad_input_gives_one_clear_error_and_no_output(case: str, setup) -> None:
    tmp, vcf, model, tiles = setup
    fragment = dict((c[0], c[2]) for c in FAILURES)[case]
    proc, names = run_case(case, tmp, vcf, model, tiles)
    if case == "bad_config":
        assert proc.returncode != 0 and fragment in proc.stderr and "batch_size" in proc.stderr
        assert not (tmp / "results").exists()
        return
    assert_one_error(proc, fragment, *names)
    if case in ("weights_misfit", "pickle_payload", "param_code", "nan_activations"):
        no_outputs(tmp / "out")
    elif case != "disk_full":
        assert not (tmp / "g.npz").exists()
    else:
        assert not (tmp / "g.npz").exists() and not list(tmp.glob(".g.npz*"))


@pytest.mark.parametrize("broken", ["1|x", "drop"])
def test_cyvcf2_reader_errors_are_one_line_too(setup, broken: str) -> None:
    tmp, _, _, tiles = setup
    line = RECORDS[2].replace("1|1", "1|x") if broken == "1|x" else RECORDS[2].rsplit("\t", 1)[0]
    vcf = write_vcf(tmp / "bad.vcf.gz", [*RECORDS[:2], line, *RECORDS[3:]], SAMPLES)
    proc = genotypes(tmp, vcf, tiles, "--reader", "cyvcf2")
    assert_one_error(proc, "htslib", "bad.vcf.gz", "1:300")
    assert not (tmp / "g.npz").exists()


def test_readme_failure_table_matches_the_tests() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Failure behaviour", 1)[1].split("\n## ", 1)[0]
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| what is wrong")
    ]
    table = [tuple(cell.strip().strip("`") for cell in row.strip("|").split("|")) for row in rows]
    assert [(what, sees) for what, sees in table] == [(c[1], c[2]) for c in FAILURES]


def test_killed_write_leaves_no_final_file(setup) -> None:
    tmp, vcf, model, tiles = setup
    assert genotypes(tmp, vcf, tiles).returncode == 0
    script = textwrap.dedent(
        f"""
        import os, signal
        import vcf2embed.parquet as parquet
        original = parquet.EmbeddingWriter.write
        def write_then_die(self, *a, **k):
            original(self, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        parquet.EmbeddingWriter.write = write_then_die
        from vcf2embed.cli import main
        main(["embed", "--genotypes", "{tmp / "g.npz"}", "--tiles", "{tiles}", "--tile", "t1",
              "--device", "cpu", "--outdir", "{tmp / "out"}"])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert not list((tmp / "out").rglob("*.parquet")) and not list((tmp / "out").rglob("*.json"))
    script = textwrap.dedent(
        f"""
        import os, signal
        from numpy.lib import format as npy
        original = npy.write_array_header_1_0
        def write_then_die(*a, **k):  # the first array's header is written, then the kill
            original(*a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        npy.write_array_header_1_0 = write_then_die
        from vcf2embed.cli import main
        main(["genotypes", "--vcf", "{vcf}", "--tiles", "{tiles}", "--tile", "t1", "--out", "{tmp / "g2.npz"}"])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL and not (tmp / "g2.npz").exists()


def test_parquet_write_failure_is_reported(setup, monkeypatch) -> None:
    import errno

    import pyarrow.parquet as pq

    from vcf2embed.embed import embed_tile
    from vcf2embed.errors import OutputError
    from vcf2embed.genotypes import load_genotypes
    from vcf2embed.models import load_model
    from vcf2embed.tiles import read_tiles

    tmp, vcf, model, tiles = setup
    assert genotypes(tmp, vcf, tiles).returncode == 0

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(OutputError, match="No space left on device"):
        embed_tile(
            load_genotypes(tmp / "g.npz"),
            read_tiles(tiles)[0],
            load_model(model),
            tmp / "out",
            device="cpu",
        )
    assert not [p for p in (tmp / "out").rglob("*") if p.is_file()]
    shutil.rmtree(tmp / "out", ignore_errors=True)


@pytest.mark.slow
def test_interrupted_workflow_resumes_to_the_same_result(tmp_path: Path, example: Path) -> None:
    from test_workflow import snakemake

    from vcf2embed.parquet import read_embeddings

    config = f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\ndevice: cpu\ntiles_per_embed_job: 1\n"
    for name in ("whole", "killed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cfg.yaml").write_text(config)
    assert snakemake(tmp_path / "whole", "--configfile", "cfg.yaml", "--cores", "2").returncode == 0

    work = tmp_path / "killed"
    proc = subprocess.Popen(
        snakemake_command("--configfile", "cfg.yaml", "--cores", "1"),
        cwd=work,
        env=venv_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    import time

    deadline = time.time() + 120
    while time.time() < deadline and len(list((work / "results" / "genotypes").glob("*.npz"))) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # steps Snakemake had finished: their outputs exist and are not marked incomplete (a job that
    # had renamed its file but was killed before Snakemake noted it is rightly redone)
    root = work / ".snakemake" / "incomplete"
    marked = {_incomplete_name(root, p) for p in root.rglob("*") if p.is_file()}
    done = {
        p.name: p.stat().st_mtime_ns
        for p in (work / "results" / "genotypes").glob("*.npz")
        if not any(m.endswith(f"results/genotypes/{p.name}") for m in marked)
    }
    assert 1 <= len(done) < 5
    # whatever the kill interrupted, no file under a final name is partial: each one loads
    for path in (work / "results").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            _load_any(path)

    # a hard kill leaves Snakemake's lock behind: the README says to unlock, then rerun
    assert snakemake(work, "--configfile", "cfg.yaml", "--unlock").returncode == 0
    resumed = snakemake(work, "--configfile", "cfg.yaml", "--cores", "2", "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name, mtime in done.items():  # finished steps are not redone
        assert (work / "results" / "genotypes" / name).stat().st_mtime_ns == mtime
    for f in sorted((tmp_path / "whole" / "results" / "embeddings").rglob("*.parquet")):
        other = work / "results" / f.relative_to(tmp_path / "whole" / "results")
        a, b = read_embeddings(f), read_embeddings(other)
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])


def _incomplete_name(root: Path, path: Path) -> str:
    """The output path behind a Snakemake incomplete marker (urlsafe base64, split in chunks)."""
    import base64
    import binascii

    encoded = "".join(part.lstrip("@") for part in path.relative_to(root).parts)
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode(
            errors="replace"
        )
    except (binascii.Error, ValueError):
        return ""


def _load_any(path: Path) -> None:
    """Read an output file whole by its kind; raise if it is cut short or damaged."""
    import pyarrow.parquet as pq

    from vcf2embed.genotypes import load_genotypes

    if path.suffix == ".npz":
        load_genotypes(path)
    elif path.suffix == ".parquet":
        pq.read_table(path)
    elif path.suffix == ".json":
        json.loads(path.read_text())
