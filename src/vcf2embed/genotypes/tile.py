"""A tile's genotypes aligned to its model's variant list, as the embed step takes them."""

from __future__ import annotations

import numpy as np

from .qc import AlignmentQC

PRESENCE_SCALE = 65535  # soft allele presence: probabilities stored as uint16 / PRESENCE_SCALE


def blocked_transpose(a: np.ndarray, block: int = 256) -> np.ndarray:
    """A contiguous transpose of a 2-D array, copied in row blocks (much faster than at once)."""
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for start in range(0, a.shape[0], block):
        out[:, start : start + block] = a[start : start + block].T
    return out


class TileGenotypes:
    """A tile's genotypes aligned to its model's variant list.

    Calls are allele codes relative to the model's alleles: 0 REF, 1 ALT, -1 missing. They are
    kept variant-major (`alleles_vm`, (variants, samples, 2) int8; `phased_vm`, (variants,
    samples) bool), the order they are read in; `alleles` and `phased` give the sample-major
    views ((samples, variants, 2) and (samples, variants)) the encoders use, made on first use.
    `dosage` is (samples, variants) float32 from DS or GP, NaN where missing, or None.
    `presence` (read from GP) is (variants, samples, 2) uint16: [P(REF present), P(ALT
    present)] times `PRESENCE_SCALE`, the soft allele-presence encoding of imputed data, or None.
    """

    def __init__(
        self,
        tile_id: str,
        samples: list[str],
        alleles: np.ndarray | None = None,
        phased: np.ndarray | None = None,
        dosage: np.ndarray | None = None,
        qc: AlignmentQC | None = None,
        source: dict | None = None,
        alleles_vm: np.ndarray | None = None,
        phased_vm: np.ndarray | None = None,
        presence: np.ndarray | None = None,
    ) -> None:
        self.tile_id = tile_id
        self.samples = samples
        self._alleles, self._phased = alleles, phased
        self.alleles_vm, self._phased_vm = alleles_vm, phased_vm
        self.dosage = dosage
        self.presence = presence
        self.qc = qc or AlignmentQC()
        self.source = source or {}

    @property
    def alleles(self) -> np.ndarray:
        """(samples, variants, 2) int8 allele codes."""
        if self._alleles is None:
            pairs = self.alleles_vm.view(np.int16)[..., 0]  # both alleles of a call as one int16
            n_var, n_samples = pairs.shape
            self._alleles = blocked_transpose(pairs).view(np.int8).reshape(n_samples, n_var, 2)
        return self._alleles

    @property
    def phased(self) -> np.ndarray:
        """(samples, variants) bool: the call is phased."""
        if self._phased is None:
            self._phased = blocked_transpose(self.phased_vm)
        return self._phased

    @property
    def phased_vm(self) -> np.ndarray | None:
        """(variants, samples) bool: the call is phased."""
        if self._phased_vm is None and self._phased is not None:
            self._phased_vm = blocked_transpose(self._phased)
        return self._phased_vm

    @property
    def n_variants(self) -> int:
        """Variants (model order) the calls cover."""
        return len(self.alleles_vm) if self.alleles_vm is not None else self._alleles.shape[1]

    def sample_rows(
        self, index: slice | np.ndarray, phased: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(alleles, phased or None) of some samples, sample-major, without the whole transpose."""
        if self._alleles is not None or self.alleles_vm is None:
            return self.alleles[index], self.phased[index] if phased else None
        pairs = self.alleles_vm.view(np.int16)[:, index, 0]  # (variants, rows) int16 pairs
        alleles = blocked_transpose(pairs).view(np.int8).reshape(pairs.shape[1], -1, 2)
        return alleles, blocked_transpose(self.phased_vm[:, index]) if phased else None

    def presence_rows(self, index: slice | np.ndarray) -> np.ndarray:
        """Soft allele presence of some samples: (rows, variants * 2) float32 in [0, 1]."""
        part = self.presence[:, index]  # (variants, rows, 2)
        pairs = blocked_transpose(part.view(np.uint32)[..., 0])  # (rows, variants)
        rows = pairs.view(np.uint16).reshape(pairs.shape[0], -1)
        return rows.astype(np.float32) * np.float32(1 / PRESENCE_SCALE)

    def variant_major(self) -> tuple[np.ndarray, np.ndarray]:
        """(alleles, phased) variant-major: (variants, samples, 2) and (variants, samples)."""
        if self.alleles_vm is not None:
            return self.alleles_vm, self.phased_vm
        pairs = self._alleles.view(np.int16)[..., 0]
        n_samples, n_var = pairs.shape
        alleles_vm = blocked_transpose(pairs).view(np.int8).reshape(n_var, n_samples, 2)
        return alleles_vm, blocked_transpose(self._phased)
