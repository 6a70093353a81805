"""The alignment QC of a tile: what happened to each model variant and each call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class AlignmentQC:
    """What happened to each model variant and each call of a tile."""

    n_model_variants: int = 0
    n_samples: int = 0
    records_read: int = 0
    records_not_in_model: int = 0
    matched_exact: int = 0
    matched_swapped: int = 0
    matched_multiallelic: int = 0
    matched_by_position: int = 0
    missing_variants: int = 0
    strand_ambiguous: int = 0
    records_without_field: int = 0
    calls_missing: int = 0
    calls_half_missing: int = 0
    calls_other_allele: int = 0
    calls_haploid: int = 0
    low_info_variants: int = 0
    info_unknown_variants: int = 0
    missing_examples: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        """Model variants found in the VCF by any rule."""
        return (
            self.matched_exact
            + self.matched_swapped
            + self.matched_multiallelic
            + self.matched_by_position
        )

    @property
    def match_rate(self) -> float:
        """Fraction of model variants found in the VCF."""
        return self.matched / self.n_model_variants if self.n_model_variants else 0.0

    def to_dict(self) -> dict:
        """Return the counts with the derived figures."""
        return {**asdict(self), "matched": self.matched, "match_rate": self.match_rate}

    @classmethod
    def from_dict(cls, data: dict) -> AlignmentQC:
        """Rebuild from `to_dict`'s or `asdict`'s output (derived figures are recomputed)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})
