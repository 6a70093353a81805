"""The report's PCA and separation score. Oracles: scikit-learn's PCA and silhouette_score on
the same matrix, numpy's SVD; and the bounded-memory rules (sample caps, tiny cohorts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

import vcf2embed.latent_pca as latent_pca_module
from vcf2embed.genotypes import AlignmentQC
from vcf2embed.latent_pca import latent_pca, silhouette, stratified_subsample
from vcf2embed.parquet import EmbeddingWriter, read_embedding_rows
from vcf2embed.report import make_report


def write_tiles(folder: Path, samples: list[str], blocks: dict[str, np.ndarray]) -> list[Path]:
    """Latent files and minimal tile QC JSONs, as the embed step writes them."""
    qcs = []
    for tile_id, values in blocks.items():
        path = folder / "embeddings" / "layer=latent" / f"{tile_id}.parquet"
        writer = EmbeddingWriter(path, tile_id, values.shape[1], {"tile_id": tile_id})
        for start in range(0, len(samples), 7):  # several batches, as embed streams them
            writer.write(samples[start : start + 7], values[start : start + 7])
        writer.close()
        qc = {
            "tile_id": tile_id,
            "tile": {"chrom": "1", "start": 1, "end": 2},
            "model": {"format": "bundle", "encoding": "allele_presence"},
            "n_samples": len(samples),
            "alignment": AlignmentQC(n_model_variants=4, matched_exact=4).to_dict(),
            "layers": {"latent": {"width": values.shape[1]}},
            "device": "cpu",
        }
        qcs.append(folder / "qc" / f"{tile_id}.json")
        qcs[-1].parent.mkdir(parents=True, exist_ok=True)
        qcs[-1].write_text(json.dumps(qc))
    return qcs


def cohort(n: int, seed: int = 0) -> tuple[list[str], dict[str, np.ndarray], list[str]]:
    rng = np.random.default_rng(seed)
    labels = [("AFR", "EUR", "EAS")[i % 3] for i in range(n)]
    shift = np.array([{"AFR": 0.0, "EUR": 2.0, "EAS": -2.0}[g] for g in labels])
    blocks = {
        "tA": (rng.standard_normal((n, 4)) + shift[:, None]).astype(np.float32),
        "tB": (rng.standard_normal((n, 3)) * [1, 2, 0] + shift[:, None] * [0, 1, 0]).astype(
            np.float32
        ),
    }
    return [f"s{i}" for i in range(n)], blocks, labels


def standardised(blocks: dict[str, np.ndarray]) -> np.ndarray:
    x = np.concatenate(list(blocks.values()), axis=1).astype(np.float64)
    sd = x.std(axis=0)
    return (x[:, sd > 0] - x[:, sd > 0].mean(axis=0)) / sd[sd > 0]


def test_pca_equals_scikit_learn(tmp_path: Path) -> None:
    samples, blocks, _ = cohort(90)
    write_tiles(tmp_path, samples, blocks)
    result = latent_pca(tmp_path / "embeddings", ["tA", "tB"], k=4)
    assert result.n_features == 6  # the constant feature of tB is dropped
    oracle = PCA(n_components=4).fit(standardised(blocks))
    expected = oracle.transform(standardised(blocks))
    signs = np.sign((result.scores * expected).sum(axis=0))
    np.testing.assert_allclose(result.scores * signs, expected, atol=1e-5)
    np.testing.assert_allclose(result.explained, oracle.explained_variance_ratio_, rtol=1e-5)


def test_pca_fitted_on_a_subsample_spans_the_same_components(tmp_path, monkeypatch) -> None:
    samples, blocks, _ = cohort(600)
    write_tiles(tmp_path, samples, blocks)
    monkeypatch.setattr(latent_pca_module, "PCA_FIT_SAMPLES", 300)
    result = latent_pca(tmp_path / "embeddings", ["tA", "tB"], k=2)
    assert len(result.fit_rows) == 300 and result.scores.shape == (600, 2)
    exact = PCA(n_components=2).fit_transform(standardised(blocks))
    # the first PC (population structure) is found again from half the cohort
    assert abs(np.corrcoef(result.scores[:, 0], exact[:, 0])[0, 1]) > 0.99


def test_randomized_svd_matches_exact(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    # population structure: a few strong components over noise
    x = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 60)) * 5
    x += 0.1 * rng.standard_normal((400, 60))
    s_exact, _ = latent_pca_module.truncated_svd(x, 5)
    monkeypatch.setattr(latent_pca_module, "EXACT_SVD_LIMIT", 10)
    s_rand, _ = latent_pca_module.truncated_svd(x, 5)
    np.testing.assert_allclose(s_rand, s_exact, rtol=1e-6)


def test_silhouette_equals_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    labels = [("a", "b", "c")[i % 3] for i in range(700)] + ["lonely"]
    points = (
        rng.standard_normal((701, 2))
        + np.array([{"a": 0, "b": 3, "c": -3, "lonely": 9}[g] for g in labels])[:, None]
    )
    assert silhouette(points, labels) == pytest.approx(silhouette_score(points, labels), abs=1e-9)
    assert np.isnan(silhouette(points, ["one"] * 701))


def test_stratified_subsample_is_capped_seeded_and_keeps_small_groups() -> None:
    labels = ["big"] * 9_990 + ["rare"] * 10
    pick = stratified_subsample(labels, 200)
    assert 200 <= len(pick) <= 202 and list(pick) == sorted(set(pick))
    assert sum(labels[i] == "rare" for i in pick) == 2
    np.testing.assert_array_equal(pick, stratified_subsample(labels, 200))
    assert len(stratified_subsample(labels[:150], 200)) == 150


def test_report_states_its_sample_caps(tmp_path: Path, monkeypatch) -> None:
    samples, blocks, labels = cohort(300)
    qcs = write_tiles(tmp_path, samples, blocks)
    meta = tmp_path / "meta.tsv"
    meta.write_text("sample_id\tpop\n" + "".join(f"{s}\t{g}\n" for s, g in zip(samples, labels)))
    monkeypatch.setattr("vcf2embed.report.SILHOUETTE_SAMPLES", 60)
    make_report(qcs, tmp_path / "embeddings", tmp_path / "report", meta, "pop", umap=False)
    stats = json.loads((tmp_path / "report" / "latent_pca.json").read_text())
    assert stats["silhouette_samples"] == 60 and stats["silhouette_samples_cap"] == 60
    assert stats["pca_fit_samples"] == 300 and stats["silhouette_pc1_pc2"] > 0.3
    rows = (tmp_path / "report" / "latent_pca.tsv").read_text().splitlines()
    assert len(rows) == 301 and rows[0].startswith("sample_id\tPC1")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_cohorts_get_a_report_that_says_what_is_missing(tmp_path: Path, n: int) -> None:
    samples, blocks, labels = cohort(n)
    qcs = write_tiles(tmp_path, samples, blocks)
    meta = tmp_path / "meta.tsv"
    meta.write_text("sample_id\tpop\n" + "".join(f"{s}\t{g}\n" for s, g in zip(samples, labels)))
    files = make_report(qcs, tmp_path / "embeddings", tmp_path / "report", meta, "pop", umap=False)
    for path in files.values():
        assert path.stat().st_size > 0
    stats = json.loads((tmp_path / "report" / "latent_pca.json").read_text())
    if n == 1:
        assert stats["notes"][0] == "fewer than 2 samples" and stats["silhouette_pc1_pc2"] is None


def test_activation_rows_read_without_the_whole_file(tmp_path: Path) -> None:
    samples, blocks, _ = cohort(50)
    write_tiles(tmp_path, samples, blocks)
    ids, values = read_embedding_rows(
        tmp_path / "embeddings" / "layer=latent" / "tA.parquet", ["s40", "s3"]
    )
    assert ids == ["s3", "s40"]
    np.testing.assert_array_equal(values, blocks["tA"][[3, 40]])
