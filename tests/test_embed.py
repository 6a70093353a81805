"""The embed step: batching, capture into Parquet, metadata, QC and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from vcf2embed.embed import embed_tile, model_input
from vcf2embed.forward import compute_activations
from vcf2embed.genotypes import read_tile_genotypes
from vcf2embed.models import load_model
from vcf2embed.parquet import read_embeddings, read_metadata
from vcf2embed.tiles import read_tiles


@pytest.fixture(scope="module")
def tile01(example: Path, tmp_path_factory):
    tile = read_tiles(example / "tiles.tsv")[0]
    model = load_model(tile.model)
    genotypes = read_tile_genotypes(example / "cohort.vcf.gz", tile, model.variants)
    return tile, model, genotypes


def test_batch_size_does_not_change_values(tile01) -> None:
    _, model, genotypes = tile01
    x = model_input(model, genotypes)
    a = compute_activations(model, x, ["latent"], torch.device("cpu"), batch_size=7)
    b = compute_activations(model, x, ["latent"], torch.device("cpu"), batch_size=330)
    np.testing.assert_allclose(a["encoder"], b["encoder"], rtol=1e-5, atol=1e-5)
    with torch.inference_mode():
        direct = model.module.encoder(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a["encoder"], direct, rtol=1e-5, atol=1e-5)


def test_embed_tile_writes_files_and_metadata(tile01, tmp_path: Path) -> None:
    tile, model, genotypes = tile01
    result = embed_tile(genotypes, tile, model, tmp_path, layers=["encoder.0"], device="cpu")
    assert set(result.files) == {"latent", "encoder.0"}
    samples, values = read_embeddings(result.files["latent"])
    assert samples == genotypes.samples and values.shape == (330, 27)
    meta = read_metadata(result.files["latent"])
    assert meta["model"]["sha256"] == model.sha256 and meta["model"]["format"] == "lab"
    assert meta["alignment"]["matched"] == len(model.variants)
    assert meta["device"] == "cpu" and meta["dtype"] == "float32"
    assert meta["versions"]["torch"] == torch.__version__
    pf = pq.ParquetFile(result.files["latent"])
    col = pf.metadata.row_group(0).column(2)
    assert col.compression == "ZSTD" and "BYTE_STREAM_SPLIT" in col.encodings
    assert pf.schema_arrow.field("embedding").type.value_type == "float"
    qc = json.loads(result.qc_path.read_text())
    assert qc["layers"]["latent"]["width"] == 27 and qc["n_samples"] == 330
    assert not list(tmp_path.rglob(".*.tmp"))


def test_reconstruction_qc_equals_numpy_on_the_whole_output(tile01, tmp_path: Path) -> None:
    from vcf2embed.reconstruction import concordance

    tile, model, genotypes = tile01
    result = embed_tile(genotypes, tile, model, tmp_path, device="cpu", batch_size=47)
    with torch.inference_mode():
        output = model.module(torch.from_numpy(model_input(model, genotypes))).numpy()
    qc = result.qc["reconstruction"]
    assert qc["concordance"] == pytest.approx(concordance(genotypes.alleles, output), abs=1e-12)
    observed = genotypes.alleles[..., 0] >= 0
    assert qc["observed_calls"] == int(observed.sum())
    per_sample = np.loadtxt(tmp_path / "qc" / f"{tile.tile_id}.samples.tsv", skiprows=1, usecols=1)
    assert per_sample.tolist() == observed.sum(axis=1).tolist()


def test_repeated_runs_identical_files(tile01, tmp_path: Path) -> None:
    tile, model, genotypes = tile01
    a = embed_tile(genotypes, tile, model, tmp_path / "a", device="cpu")
    b = embed_tile(genotypes, tile, model, tmp_path / "b", device="cpu")
    assert a.files["latent"].read_bytes() == b.files["latent"].read_bytes()


def test_nan_weights_fail_naming_layer(tile01, tmp_path: Path) -> None:
    tile, model, genotypes = tile01
    broken = load_model(tile.model)
    with torch.no_grad():
        broken.module.encoder[2].weight[0, 0] = float("nan")
    from vcf2embed.errors import ModelError

    with pytest.raises(ModelError, match="layer encoder of .* gave NaN"):
        embed_tile(genotypes, tile, broken, tmp_path, device="cpu")
    assert not (tmp_path / "embeddings").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vcf2embed.cli", *args], capture_output=True, text=True
    )


def test_cli_error_is_one_line(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    proc = run_cli(
        "genotypes",
        "--vcf",
        str(example / "nope.vcf.gz"),
        "--tiles",
        str(example / "tiles.tsv"),
        "--tile",
        "tile01",
        "--out",
        str(out),
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().count("\n") == 0
        and "nope.vcf.gz" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    assert not out.exists()


def test_cli_layers(example: Path) -> None:
    proc = run_cli("layers", str(example / "models" / "tile02"))
    assert proc.returncode == 0, proc.stderr
    assert "encoder    Sequential" in proc.stdout and "<- latent" in proc.stdout


def test_cli_convert(example: Path, tmp_path: Path) -> None:
    proc = run_cli("convert", str(example / "models/tile01/tile01.pth"), str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr
    a = load_model(example / "models/tile01/tile01.pth")
    b = load_model(tmp_path / "b")
    for k, v in a.module.state_dict().items():
        assert torch.equal(v, b.module.state_dict()[k])


def test_bfloat16_records_difference_from_float32(tile01, tmp_path: Path) -> None:
    tile, _, genotypes = tile01
    model = load_model(tile.model)
    result = embed_tile(genotypes, tile, model, tmp_path, device="cpu", dtype="bfloat16")
    check = result.qc["reduced_precision"]
    assert check["dtype"] == "bfloat16" and check["rows_compared"] == 256
    reference = load_model(tile.model)
    x = model_input(reference, genotypes)
    f32 = compute_activations(reference, x, ["latent"], torch.device("cpu"))["encoder"]
    _, values = read_embeddings(result.files["latent"])
    assert check["max_abs_diff"]["encoder"] <= np.abs(values - f32).max() + 1e-6
    assert 0 < check["max_abs_diff"]["encoder"] < 0.05 * np.abs(f32).max()


def test_matrix_npy_and_parquet(tile01, tmp_path: Path, example: Path) -> None:
    import polars as pl

    from vcf2embed.matrix import assemble, write_matrix

    tiles = read_tiles(example / "tiles.tsv")[:2]
    for t in tiles:
        m = load_model(t.model)
        g = read_tile_genotypes(example / "cohort.vcf.gz", t, m.variants)
        embed_tile(g, t, m, tmp_path / "res", device="cpu")
    matrix = assemble(tmp_path / "res" / "embeddings", "latent", [t.tile_id for t in tiles])
    first = read_embeddings(tmp_path / "res/embeddings/layer=latent/tile01.parquet")[1]
    second = read_embeddings(tmp_path / "res/embeddings/layer=latent/tile02.parquet")[1]
    np.testing.assert_array_equal(matrix.values, np.hstack([first, second]))
    write_matrix(matrix, tmp_path / "m.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), matrix.values)
    assert (tmp_path / "m.samples.txt").read_text().split() == matrix.samples
    proc = run_cli(
        "matrix",
        "--embeddings",
        str(tmp_path / "res/embeddings"),
        "--out",
        str(tmp_path / "m.parquet"),
    )
    assert proc.returncode == 0, proc.stderr
    frame = pl.read_parquet(tmp_path / "m.parquet")
    assert frame.columns[0] == "sample_id" and frame.columns[1] == "tile01:0"
    np.testing.assert_array_equal(frame.drop("sample_id").to_numpy(), matrix.values)
    features = pl.read_csv(tmp_path / "m.features.tsv", separator="\t")
    assert features.height == matrix.values.shape[1] and features["tile_id"][-1] == "tile02"


def test_gpu_check_runs_without_gpu() -> None:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    if not torch.cuda.is_available():
        assert "no CUDA device" in proc.stdout
    else:
        assert "pass" in proc.stdout


def test_streaming_writer_row_groups_and_abort(tmp_path: Path) -> None:
    from vcf2embed.parquet import EmbeddingWriter

    rng = np.random.default_rng(0)
    values = rng.normal(size=(2500, 9000)).astype(np.float32)
    ids = [f"s{i}" for i in range(2500)]
    w = EmbeddingWriter(tmp_path / "a.parquet", "t", 9000, {"k": 1})
    for start in range(0, 2500, 333):
        w.write(ids[start : start + 333], values[start : start + 333])
    assert not (tmp_path / "a.parquet").exists()  # nothing final before close
    w.close()
    pf = pq.ParquetFile(tmp_path / "a.parquet")
    assert [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)] == [
        1024,
        1024,
        452,
    ]
    got_ids, got = read_embeddings(tmp_path / "a.parquet")
    assert got_ids == ids
    np.testing.assert_array_equal(got, values)
    assert read_metadata(tmp_path / "a.parquet") == {"k": 1}
    w = EmbeddingWriter(tmp_path / "b.parquet", "t", 4, {})
    w.write(["x"], np.zeros((1, 4)))
    w.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]
