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
