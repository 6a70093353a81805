"""Training the lab architecture: loss falls, seeds reproduce, the CLI writes a usable model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vcf2embed.models import load_model
from vcf2embed.tiles import Tile
from vcf2embed.train import TrainSettings, train_autoencoder, train_from_vcf


@pytest.fixture(scope="module")
def panel(example: Path) -> np.ndarray:
    from vcf2embed.genotypes import read_tile_genotypes
    from vcf2embed.variants import load_variants

    tile = Tile("t", "22", 17_300_001, 17_520_000, example / "models" / "tile02")
    return read_tile_genotypes(example / "cohort.vcf.gz", tile, load_variants(tile.model)).alleles[
        :, :120
    ]


def test_loss_falls_and_beats_baseline(panel: np.ndarray) -> None:
    result = train_autoencoder(
        panel, TrainSettings(epochs=60, patience=60, learning_rate=3e-3, seed=3)
    )
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.7 * losses[0]
    # the major-genotype baseline on the same calls
    obs = np.where(panel[..., 0] >= 0, panel.sum(axis=-1), -1)
    major = np.array([np.bincount(col[col >= 0], minlength=3).argmax() for col in obs.T])
    baseline = float(((obs == major) & (obs >= 0)).sum() / (obs >= 0).sum())
    assert result.validation_concordance > baseline


def test_same_seed_same_weights(panel: np.ndarray) -> None:
    settings = TrainSettings(epochs=5, seed=11)
    a = train_autoencoder(panel, settings).module.state_dict()
    b = train_autoencoder(panel, settings).module.state_dict()
    c = train_autoencoder(panel, TrainSettings(epochs=5, seed=12)).module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_train_from_vcf_filters_by_maf(example: Path) -> None:
    tile = Tile("t", "22", 17_000_001, 17_060_000, Path("unused"))
    result, variants = train_from_vcf(
        example / "cohort.vcf.gz", tile, TrainSettings(epochs=2), min_maf=0.1
    )
    assert len(variants) > 10
    assert result.module.encoder[0].in_features == 2 * len(variants)
    assert variants.pos.min() >= tile.start and variants.pos.max() <= tile.end


def test_cli_train_writes_bundle_and_lab(example: Path, tmp_path: Path) -> None:
    base = [
        sys.executable,
        "-m",
        "vcf2embed.cli",
        "train",
        "--vcf",
        str(example / "cohort.vcf.gz"),
        "--region",
        "22:17000001-17060000",
        "--epochs",
        "3",
        "--seed",
        "5",
    ]
    for fmt, out in (("bundle", tmp_path / "b"), ("lab", tmp_path / "lab")):
        proc = subprocess.run(
            [*base, "--format", fmt, "--out", str(out)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert "validation concordance" in proc.stderr
    bundle = load_model(tmp_path / "b")
    lab = load_model(tmp_path / "lab" / "lab.pth")
    assert bundle.settings["training"]["settings"]["seed"] == 5
    assert 0 < bundle.settings["training"]["validation_concordance"] <= 1
    for k, v in bundle.module.state_dict().items():
        assert torch.equal(v, lab.module.state_dict()[k])
    assert json.loads((tmp_path / "b" / "model.json").read_text())["training"]["epochs_run"] == 3
    assert os.path.getsize(tmp_path / "lab" / "lab.pos") > 0
