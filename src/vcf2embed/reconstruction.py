"""Reading genotype calls back out of an allele-presence reconstruction."""

from __future__ import annotations

import numpy as np


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
    """Concordance and dosage r-squared of a reconstruction, accumulated batch by batch."""

    def __init__(self, n_samples: int) -> None:
        self.correct = np.zeros(n_samples, dtype=np.int64)
        self.calls = np.zeros(n_samples, dtype=np.int64)
        self.sums = np.zeros(5)  # sum x, sum y, sum xy, sum x^2, sum y^2 over observed calls

    def add(self, start: int, alleles: np.ndarray, output: np.ndarray) -> None:
        """Add the samples `start ...` of one batch."""
        obs = observed_dosage(alleles)
        mask = obs >= 0
        stop = start + len(obs)
        call, dosage = _calls_and_dosage(output)
        self.correct[start:stop] += np.count_nonzero((call == obs) & mask, axis=1)
        self.calls[start:stop] += np.count_nonzero(mask, axis=1)
        x = dosage[mask].astype(np.float64)
        y = obs[mask].astype(np.float64)
        self.sums += (x.sum(), y.sum(), (x * y).sum(), (x * x).sum(), (y * y).sum())

    def result(self) -> dict:
        """Tile-level figures and the per-sample concordance and call counts."""
        n = int(self.calls.sum())
        sx, sy, sxy, sxx, syy = self.sums
        var = (n * sxx - sx * sx) * (n * syy - sy * sy)
        r2 = float((n * sxy - sx * sy) ** 2 / var) if n > 1 and var > 0 else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            per_sample = np.where(self.calls > 0, self.correct / np.maximum(self.calls, 1), np.nan)
        return {
            "concordance": float(self.correct.sum() / n) if n else float("nan"),
            "dosage_r2": r2,
            "observed_calls": n,
            "per_sample_concordance": per_sample,
            "per_sample_calls": self.calls.copy(),
        }
