"""The cohort-level QC summary: one row per tile."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .files import write_text_atomic

COLUMNS = (
    "tile_id",
    "chrom",
    "start",
    "end",
    "model_format",
    "encoding",
    "n_samples",
    "n_model_variants",
    "matched",
    "match_rate",
    "matched_exact",
    "matched_swapped",
    "matched_multiallelic",
    "matched_by_position",
    "missing_variants",
    "strand_ambiguous",
    "calls_missing",
    "calls_half_missing",
    "calls_other_allele",
    "calls_haploid",
    "latent_width",
    "device",
)


def summary_row(qc: dict) -> dict:
    """Flatten one tile's QC JSON into a summary row."""
    a = qc["alignment"]
    return {
        "tile_id": qc["tile_id"],
        "chrom": qc["tile"]["chrom"],
        "start": qc["tile"]["start"],
        "end": qc["tile"]["end"],
        "model_format": qc["model"]["format"],
        "encoding": qc["model"]["encoding"],
        "n_samples": qc["n_samples"],
        **{k: a[k] for k in COLUMNS if k in a},
        "match_rate": f"{a['match_rate']:.6f}",
        "latent_width": qc["layers"]["latent"]["width"],
        "device": qc["device"],
    }


def write_summary(qc_paths: list[Path], out: Path) -> None:
    """Write the TSV summary of the given tile QC files."""
    lines = ["\t".join(COLUMNS)]
    for path in sorted(qc_paths):
        try:
            qc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read tile QC ({exc})") from None
        row = summary_row(qc)
        lines.append("\t".join(str(row[c]) for c in COLUMNS))
    write_text_atomic(out, "\n".join(lines) + "\n")
