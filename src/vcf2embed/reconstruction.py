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
    return call_probabilities(output).argmax(axis=-1).astype(np.int8)


def observed_dosage(alleles: np.ndarray) -> np.ndarray:
    """Return the observed alt count per call, -1 where missing."""
    observed = alleles[..., 0] >= 0
    return np.where(observed, alleles.sum(axis=-1), -1).astype(np.int8)


def concordance(alleles: np.ndarray, output: np.ndarray) -> float:
    """Fraction of observed calls whose reconstructed call equals the observed genotype."""
    obs = observed_dosage(alleles)
    mask = obs >= 0
    if not mask.any():
        return float("nan")
    return float((called_dosage(output)[mask] == obs[mask]).mean())


def expected_dosage(output: np.ndarray) -> np.ndarray:
    """Expected ALT dosage P(0/1) + 2 P(1/1), normalised by the three call probabilities."""
    p = call_probabilities(output)
    total = p.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (p[..., 1] + 2 * p[..., 2]) / total, 0.0)


def dosage_r2(alleles: np.ndarray, output: np.ndarray) -> float:
    """Squared Pearson correlation of expected and observed dosage over observed calls."""
    obs = observed_dosage(alleles)
    mask = obs >= 0
    if mask.sum() < 2:
        return float("nan")
    x, y = expected_dosage(output)[mask], obs[mask].astype(np.float64)
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def reconstruction_qc(alleles: np.ndarray, output: np.ndarray) -> dict:
    """Tile-level and per-sample concordance and dosage r-squared of a reconstruction."""
    obs = observed_dosage(alleles)
    mask = obs >= 0
    correct = (called_dosage(output) == obs) & mask
    per_calls = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_sample = np.where(per_calls > 0, correct.sum(axis=1) / np.maximum(per_calls, 1), np.nan)
    return {
        "concordance": float(correct.sum() / mask.sum()) if mask.any() else float("nan"),
        "dosage_r2": dosage_r2(alleles, output),
        "observed_calls": int(mask.sum()),
        "per_sample_concordance": per_sample,
        "per_sample_calls": per_calls,
    }
