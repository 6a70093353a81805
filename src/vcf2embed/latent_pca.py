"""PCA of the latents across tiles and a separation score, in memory bounded by the cohort.

Nothing here grows with samples², and no tile's latents are held whole: each file is read a row
group at a time. Features are standardised with statistics streamed over all samples, the
components are fitted on a seeded subsample of at most `PCA_FIT_SAMPLES` samples (all of them in
smaller cohorts, where the result is the exact PCA), every sample is then projected a row group
at a time, and the silhouette width is computed on a seeded, stratified subsample of at most
`SILHOUETTE_SAMPLES` samples, its distances a block of rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .parquet import iter_embedding_groups

PCA_FIT_SAMPLES = 20_000
SILHOUETTE_SAMPLES = 2_000
EXACT_SVD_LIMIT = 2_000  # above this min(rows, features), a randomized SVD
_DISTANCE_ROWS = 256


@dataclass
class LatentPCA:
    """Principal component scores of every sample, and how they were computed."""

    samples: list[str]
    scores: np.ndarray  # (samples, components) float64
    explained: np.ndarray  # variance ratio of each component
    n_features: int
    fit_rows: np.ndarray  # the samples the components were fitted on
    notes: list[str] = field(default_factory=list)


@dataclass
class _Standardiser:
    """One tile's feature means and standard deviations; constant features are dropped."""

    mean: np.ndarray
    sd: np.ndarray

    @property
    def width(self) -> int:
        """Features kept."""
        return int((self.sd > 0).sum())

    def __call__(self, values: np.ndarray) -> np.ndarray:
        keep = self.sd > 0
        return (values[:, keep].astype(np.float64) - self.mean[keep]) / self.sd[keep]


class TileFiles:
    """A layer's per-tile files, read a row group at a time, their samples checked alike."""

    def __init__(self, embeddings: Path, layer: str, tile_ids: list[str]) -> None:
        folder = Path(embeddings) / f"layer={layer}"
        self.paths = [folder / f"{tile_id}.parquet" for tile_id in tile_ids]
        missing = [t for t, p in zip(tile_ids, self.paths) if not p.is_file()]
        if missing:
            raise InputError(f"{folder}: no file for tile(s) {', '.join(missing[:5])}")
        self.samples: list[str] = []
        for ids, _ in iter_embedding_groups(self.paths[0], columns=["sample_id"]):
            self.samples += ids

    def groups(self, index: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, values) of each row group of tile `index`."""
        path, start = self.paths[index], 0
        for ids, values in iter_embedding_groups(path):
            if ids != self.samples[start : start + len(ids)]:
                raise InputError(
                    f"{path}: its samples differ from {self.paths[0]}'s; rerun all tiles with "
                    "the same VCF samples and samples file"
                )
            yield start, values
            start += len(ids)
        if start != len(self.samples):
            raise InputError(
                f"{path}: {start} samples, but {self.paths[0]} has {len(self.samples)}"
            )


def fit_subsample(n: int, cap: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices of a seeded subsample of at most `cap` of `n` rows (all if n <= cap)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def truncated_svd(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The top-k singular values and right singular vectors (features, k) of `x`: exact for
    small matrices, randomized (range finder with power iterations) for large ones."""
    if min(x.shape) <= EXACT_SVD_LIMIT:
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        return s[:k], vt[:k].T
    rng = np.random.default_rng(seed)
    q = x @ rng.standard_normal((x.shape[1], k + 10))
    for _ in range(4):
        q, _ = np.linalg.qr(x @ (x.T @ q))
    _, s, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    return s[:k], vt[:k].T


def _tile_pass(files: TileFiles, index: int, rows: np.ndarray) -> tuple[_Standardiser, np.ndarray]:
    """One tile's standardiser over all samples and its raw values at `rows`, streamed."""
    shift = total = squares = None
    picked: list[np.ndarray] = []
    for start, values in files.groups(index):
        x = values.astype(np.float64)
        shift = x[0].copy() if shift is None else shift  # keeps the sums well conditioned
        x -= shift
        total = x.sum(axis=0) if total is None else total + x.sum(axis=0)
        squares = (x * x).sum(axis=0) if squares is None else squares + (x * x).sum(axis=0)
        inside = rows[(rows >= start) & (rows < start + len(values))] - start
        picked.append(values[inside])
    n = len(files.samples)
    mean = total / n
    sd = np.sqrt(np.maximum(squares / n - mean**2, 0.0))
    sd[sd <= 1e-9 * (1.0 + np.abs(mean + shift))] = 0.0
    return _Standardiser(mean + shift, sd), np.concatenate(picked)


def latent_pca(embeddings: Path, tile_ids: list[str], k: int = 10, seed: int = 0) -> LatentPCA:
    """PCA of the standardised latents of `tile_ids` (features with zero variance dropped)."""
    files = TileFiles(embeddings, "latent", tile_ids)
    samples = files.samples
    rows = fit_subsample(len(samples), PCA_FIT_SAMPLES, seed)
    scalers, fit_parts = [], []
    for index in range(len(tile_ids)):
        scaler, picked = _tile_pass(files, index, rows)
        scalers.append(scaler)
        fit_parts.append(scaler(picked))
    fit = np.concatenate(fit_parts, axis=1)
    if len(samples) < 2 or fit.shape[1] == 0:
        why = "fewer than 2 samples" if len(samples) < 2 else "no latent feature varies"
        return LatentPCA(
            samples, np.zeros((len(samples), 0)), np.zeros(0), fit.shape[1], rows, [why]
        )
    s, v = truncated_svd(fit, min(k, *fit.shape), seed)
    scores = np.zeros((len(samples), len(s)))
    offset = 0
    for index, scaler in enumerate(scalers):
        block = v[offset : offset + scaler.width]
        for start, values in files.groups(index):
            scores[start : start + len(values)] += scaler(values) @ block
        offset += scaler.width
    return LatentPCA(samples, scores, s**2 / (fit**2).sum(), fit.shape[1], rows)


def stratified_subsample(labels: list[str], cap: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most `cap` samples, each label in proportion (at least 2 of each
    that has 2), seeded."""
    labels_arr = np.asarray(labels)
    if len(labels_arr) <= cap:
        return np.arange(len(labels_arr))
    rng = np.random.default_rng(seed)
    picked = []
    for group in sorted(set(labels)):
        members = np.flatnonzero(labels_arr == group)
        take = max(min(2, len(members)), int(round(cap * len(members) / len(labels_arr))))
        picked.append(rng.choice(members, size=min(take, len(members)), replace=False))
    return np.sort(np.concatenate(picked))


def silhouette(points: np.ndarray, labels: list[str]) -> float:
    """Mean silhouette width of labelled points (Euclidean), distances a block of rows at a time;
    NaN with fewer than two labels. Samples alone in their label count as 0, as in scikit-learn."""
    labels_arr = np.asarray(labels)
    groups, codes = np.unique(labels_arr, return_inverse=True)
    if len(groups) < 2:
        return float("nan")
    counts = np.bincount(codes, minlength=len(groups)).astype(np.float64)
    onehot = np.zeros((len(points), len(groups)))
    onehot[np.arange(len(points)), codes] = 1.0
    widths = np.zeros(len(points))
    sq = (points**2).sum(axis=1)
    for start in range(0, len(points), _DISTANCE_ROWS):
        block = slice(start, start + _DISTANCE_ROWS)
        d2 = sq[block, None] + sq[None, :] - 2.0 * points[block] @ points.T
        sums = np.sqrt(np.maximum(d2, 0.0)) @ onehot  # (rows, groups) distance sums
        own = codes[block]
        rows = np.arange(len(own))
        same_n = counts[own] - 1
        a = np.divide(sums[rows, own], same_n, out=np.zeros(len(own)), where=same_n > 0)
        others = sums / counts
        others[rows, own] = np.inf
        b = others.min(axis=1)
        width = (b - a) / np.maximum(a, b)
        widths[block] = np.where(same_n > 0, width, 0.0)
    return float(widths.mean())
