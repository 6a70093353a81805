"""Reading genotype calls back out of an allele-presence reconstruction."""

from __future__ import annotations

import numpy as np
import torch


def call_probabilities(output: np.ndarray) -> np.ndarray:
    """Return (samples, variants, 3) P(0/0), P(0/1), P(1/1) from `[ref, alt]` presence outputs."""
    out = output.reshape(output.shape[0], -1, 2).astype(np.float64)
    ref, alt = out[..., 0], out[..., 1]
    return np.stack([ref * (1 - alt), ref * alt, (1 - ref) * alt], axis=-1)


def called_dosage(output: np.ndarray) -> np.ndarray:
    """Return the called alt-allele count (0, 1, 2) per sample and variant: argmax of the call probabilities."""
    return _calls_and_dosage(output)[0]


def observed_dosage(alleles: np.ndarray) -> np.ndarray:
    """Return the observed alt count per call, -1 where missing."""
    first = alleles[..., 0]
    return np.where(first >= 0, first + alleles[..., 1], -1).astype(np.int8)


def concordance(alleles: np.ndarray, output: np.ndarray) -> float:
    """Fraction of observed calls whose reconstructed call equals the observed genotype."""
    obs = observed_dosage(alleles)
    mask = obs >= 0
    if not mask.any():
        return float("nan")
    return float((called_dosage(output)[mask] == obs[mask]).mean())


def _calls_and_dosage(output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Called ALT count (argmax, first on ties) and expected dosage, in float32 without stacking."""
    out = np.asarray(output, dtype=np.float32).reshape(len(output), -1)
    ref, alt = out[:, 0::2], out[:, 1::2]
    p00 = ref * (1 - alt)
    p01 = ref * alt
    p11 = alt - p01  # (1 - ref) * alt
    call = np.zeros(p00.shape, dtype=np.int8)
    best = p00
    better = p01 > best
    call[better] = 1
    best = np.where(better, p01, best)
    call[p11 > best] = 2
    total = p00 + p01 + p11
    with np.errstate(invalid="ignore", divide="ignore"):
        dosage = np.where(total > 0, (p01 + 2 * p11) / total, 0).astype(np.float32)
    return call, dosage


class ReconstructionAccumulator:
    """Concordance and dosage r-squared of a reconstruction, accumulated batch by batch on the
    model's device, so outputs never travel back to the host."""

    def __init__(self, n_samples: int, device: torch.device | str = "cpu") -> None:
        self.correct = torch.zeros(n_samples, dtype=torch.int64, device=device)
        self.calls = torch.zeros(n_samples, dtype=torch.int64, device=device)
        # sum x, sum y, sum xy, sum x^2, sum y^2 over observed calls (x: dosage, y: observed)
        # Apple's MPS has no float64: there the sums stay float32
        self.wide = torch.float32 if torch.device(device).type == "mps" else torch.float64
        self.sums = torch.zeros(5, dtype=self.wide, device=device)

    def add(self, start: int, inputs: torch.Tensor, output: torch.Tensor) -> None:
        """Add the samples `start ...` of one batch: its allele-presence inputs and the outputs."""
        step = max(1, (1 << 18) // max(1, inputs.shape[1]))  # bounds the temporaries
        for first in range(0, len(inputs), step):
            self._add(start + first, inputs[first : first + step], output[first : first + step])

    def _add(self, start: int, inputs: torch.Tensor, output: torch.Tensor) -> None:
        rows = len(inputs)
        presence = inputs.reshape(rows, -1, 2)
        ref_in, alt_in = presence[..., 0] > 0.5, presence[..., 1] > 0.5
        mask = ref_in | alt_in  # neither allele present: a missing call
        r8, a8 = ref_in.view(torch.int8), alt_in.view(torch.int8)
        obs = a8 * (2 - r8)  # 0/0 -> 0, 0/1 -> 1, 1/1 -> 2; 0 where missing
        out = output.reshape(rows, -1, 2).to(torch.float32)
        ref, alt = out[..., 0], out[..., 1]
        p01 = ref * alt
        p00 = ref - p01  # ref * (1 - alt)
        p11 = alt - p01  # (1 - ref) * alt
        # argmax, first on ties: 2 if p11 beats both, else 1 if p01 beats p00, else 0
        beats00 = (p01 > p00).view(torch.int8)
        beats_both = (p11 > torch.maximum(p00, p01)).view(torch.int8)
        call = beats00 + beats_both * (2 - beats00)
        hit = (call == obs) & mask
        self.correct[start : start + rows] += hit.view(torch.int8).sum(dim=1, dtype=torch.int64)
        self.calls[start : start + rows] += mask.view(torch.int8).sum(dim=1, dtype=torch.int64)
        dosage = (p01 + 2 * p11) / (p00 + p01 + p11)
        dosage.nan_to_num_(nan=0.0)  # all three probabilities 0
        dosage *= mask
        y = obs.to(torch.float32)
        # per-sample sums of at most a few thousand terms in float32, the rest wider
        terms = (dosage, y, dosage * y, dosage * dosage, y * y)
        self.sums += torch.stack([t.sum(dim=1).to(self.wide).sum() for t in terms])

    def result(self) -> dict:
        """Tile-level figures and the per-sample concordance and call counts."""
        correct, calls = self.correct.cpu().numpy(), self.calls.cpu().numpy()
        n = int(calls.sum())
        sx, sy, sxy, sxx, syy = self.sums.cpu().tolist()
        var = (n * sxx - sx * sx) * (n * syy - sy * sy)
        r2 = float((n * sxy - sx * sy) ** 2 / var) if n > 1 and var > 0 else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            per_sample = np.where(calls > 0, correct / np.maximum(calls, 1), np.nan)
        return {
            "concordance": float(correct.sum() / n) if n else float("nan"),
            "dosage_r2": r2,
            "observed_calls": n,
            "per_sample_concordance": per_sample,
            "per_sample_calls": calls.copy(),
        }
