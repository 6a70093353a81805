"""Hyper-parameters of `vcf2embed train` (kept free of torch so the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainSettings:
    """Hyper-parameters of one training run."""

    n_layers: int = 4
    size_ratio: float = 0.25
    activation: str = "relu"
    epochs: int = 300
    batch_size: int = 64
    learning_rate: float = 1e-3
    mask_rate: float = 0.1
    validation_fraction: float = 0.15
    patience: int = 25
    seed: int = 1
