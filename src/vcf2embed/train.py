"""Training the lab architecture as a denoising autoencoder on allele-presence inputs."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from .architectures import LabAutoencoder
from .encodings import allele_presence
from .reconstruction import concordance

log = logging.getLogger(__name__)


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


@dataclass
class TrainResult:
    """A trained model with its history and held-out accuracy."""

    module: LabAutoencoder
    settings: TrainSettings
    best_epoch: int
    validation_concordance: float
    validation_masked_concordance: float
    history: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict:
        """Return what a model bundle records about its training."""
        return {
            "settings": asdict(self.settings),
            "best_epoch": self.best_epoch,
            "validation_concordance": self.validation_concordance,
            "validation_masked_concordance": self.validation_masked_concordance,
            "epochs_run": len(self.history),
        }


def _mask(x: torch.Tensor, rate: float, gen: torch.Generator) -> torch.Tensor:
    """Set a random fraction of variants to the missing encoding [0, 0]."""
    n, width = x.shape
    keep = torch.rand((n, width // 2), generator=gen) >= rate
    return x * keep.repeat_interleave(2, dim=1)


def train_autoencoder(
    alleles: np.ndarray, settings: TrainSettings, progress: bool = False
) -> TrainResult:
    """Train on (samples, variants, 2) allele codes; early-stop on a held-out split."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    x_all = allele_presence(alleles)
    observed_all = np.repeat(alleles[..., 0] >= 0, 2, axis=1).astype(np.float32)
    order = rng.permutation(len(x_all))
    n_val = max(1, int(round(len(x_all) * settings.validation_fraction)))
    val_idx, train_idx = order[:n_val], order[n_val:]
    x_train = torch.from_numpy(x_all[train_idx])
    w_train = torch.from_numpy(observed_all[train_idx])
    x_val = torch.from_numpy(x_all[val_idx])
    w_val = torch.from_numpy(observed_all[val_idx])
    width = x_all.shape[1]
    model = LabAutoencoder(
        width, width, settings.n_layers, settings.size_ratio, settings.activation
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    loss_fn = nn.BCELoss(reduction="none")
    best = (float("inf"), 0, {k: v.clone() for k, v in model.state_dict().items()})
    history: list[dict[str, float]] = []
    epochs = range(settings.epochs)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=settings.epochs, desc="train", unit="epoch")
    val_gen = torch.Generator().manual_seed(settings.seed + 1)
    x_val_masked = _mask(x_val, settings.mask_rate, val_gen)
    for epoch in epochs:
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for start in range(0, len(perm), settings.batch_size):
            idx = perm[start : start + settings.batch_size]
            xb, wb = x_train[idx], w_train[idx]
            out = model(_mask(xb, settings.mask_rate, gen))
            loss = (loss_fn(out, xb) * wb).sum() / wb.sum().clamp(min=1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val_out = model(x_val_masked)
            val_loss = float((loss_fn(val_out, x_val) * w_val).sum() / w_val.sum().clamp(min=1))
        history.append({"epoch": epoch, "train_loss": total / len(x_train), "val_loss": val_loss})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(val_loss=f"{val_loss:.4f}")
        if val_loss < best[0] - 1e-6:
            best = (val_loss, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= settings.patience:
            log.info("early stop at epoch %d (best %d)", epoch, best[1])
            break
    if bar is not None:
        bar.close()
    model.load_state_dict(best[2])
    model.eval()
    with torch.no_grad():
        plain = model(x_val).numpy()
        masked = model(x_val_masked).numpy()
    val_alleles = alleles[val_idx]
    return TrainResult(
        module=model,
        settings=settings,
        best_epoch=best[1],
        validation_concordance=concordance(val_alleles, plain),
        validation_masked_concordance=concordance(val_alleles, masked),
        history=history,
    )
