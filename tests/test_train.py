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
from htstools import bcftools

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
    """The variants kept are exactly the biallelic, polymorphic records (first per position)
    whose minor allele frequency over called alleles is >= min_maf, by hand from bcftools."""
    tile = Tile("t", "22", 17_000_001, 17_060_000, Path("unused"))
    result, variants = train_from_vcf(
        example / "cohort.vcf.gz", tile, TrainSettings(epochs=2), min_maf=0.1
    )
    region = f"22:{tile.start}-{tile.end}"
    rows = bcftools(
        "query", "-r", region, "-f", "%POS\t%REF\t%ALT[\t%GT]\n", example / "cohort.vcf.gz"
    )
    expected, seen, filtered = [], set(), 0
    for line in rows.splitlines():
        pos, ref, alt, *gts = line.split("\t")
        if "," in alt or pos in seen:
            continue
        seen.add(pos)
        alleles = [a for gt in gts for a in gt.replace("|", "/").split("/") if a != "."]
        maf = min(alleles.count("1"), alleles.count("0")) / len(alleles)
        if maf >= 0.1:
            expected.append((int(pos), ref, alt))
        else:
            filtered += 1
    assert filtered > 0  # the region has variants the filter must drop
    assert list(zip(variants.pos.tolist(), variants.ref, variants.alt)) == expected
    assert result.module.encoder[0].in_features == 2 * len(variants)


def test_early_stop_after_patience_without_improvement(panel: np.ndarray) -> None:
    """With a learning rate of zero nothing improves after the first epoch: training stops
    `patience` epochs later."""
    result = train_autoencoder(panel, TrainSettings(epochs=50, patience=4, learning_rate=0.0))
    assert result.best_epoch == 0
    assert len(result.history) == 5


def test_returned_weights_are_the_best_epochs(panel: np.ndarray) -> None:
    """Training is deterministic, so a run cut at the best epoch ends with that epoch's weights:
    the full run must return exactly those, not its last epoch's."""
    noisy = dict(learning_rate=0.3, seed=5, patience=30)  # overshoots after epoch 1
    full = train_autoencoder(panel, TrainSettings(epochs=12, **noisy))
    losses = [h["val_loss"] for h in full.history]
    assert full.best_epoch == int(np.argmin(losses)) < len(losses) - 1
    cut = train_autoencoder(panel, TrainSettings(epochs=full.best_epoch + 1, **noisy))
    assert cut.best_epoch == full.best_epoch
    a, b = full.module.state_dict(), cut.module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


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
