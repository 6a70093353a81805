"""The cohort-level QC summary: one row per tile."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import InputError
from .files import write_text_atomic

log = logging.getLogger(__name__)

COLUMNS = (
    "tile_id",
    "status",
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
    "reconstruction_concordance",
    "reconstruction_dosage_r2",
    "latent_width",
    "device",
    "error",
)


def summary_row(qc: dict) -> dict:
    """Flatten one tile's QC JSON into a summary row (NA where a failed tile has no figure)."""
    if qc.get("status") == "failed":
        row = dict.fromkeys(COLUMNS, "NA")
        row.update(
            tile_id=qc["tile_id"],
            status=f"failed_{qc.get('stage', 'embed')}",
            chrom=qc["tile"]["chrom"],
            start=qc["tile"]["start"],
            end=qc["tile"]["end"],
            error=" ".join(str(qc.get("error", "")).split()),
        )
        return row
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
        "reconstruction_concordance": _fmt(qc.get("reconstruction", {}).get("concordance")),
        "reconstruction_dosage_r2": _fmt(qc.get("reconstruction", {}).get("dosage_r2")),
        "latent_width": qc["layers"]["latent"]["width"],
        "device": qc["device"],
        "status": "ok",
        "error": "",
    }


def _fmt(value: float | None) -> str:
    return "NA" if value is None or value != value else f"{value:.6f}"


def read_qc(path: Path) -> dict:
    """Read one tile's QC JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read tile QC ({exc})") from None


def absent_row(tile) -> dict:
    """The summary row of a lab region that has no model (not embedded)."""
    row = dict.fromkeys(COLUMNS, "NA")
    row.update(
        tile_id=tile.tile_id,
        status="no_model",
        chrom=tile.chrom,
        start=tile.start,
        end=tile.end,
        error=f"no model line for lab tile {tile.label} in the lab's metadata.tsv",
    )
    return row


def write_summary(
    qc_paths: list[Path], out: Path, samples_out: Path | None = None, absent: list | None = None
) -> None:
    """Write the per-tile TSV summary and, optionally, per-sample reconstruction concordance."""
    lines = ["\t".join(COLUMNS)]
    correct: dict[str, float] = {}
    calls: dict[str, int] = {}
    tiles: dict[str, int] = {}
    for path in sorted(qc_paths):
        qc = read_qc(path)
        row = summary_row(qc)
        lines.append("\t".join(str(row[c]) for c in COLUMNS))
        per_sample = qc.get("per_sample_file")
        if samples_out is not None and per_sample:
            # paths in a QC file are relative to its output folder (the parent of qc/)
            with open(path.parent.parent / per_sample) as fh:
                next(fh)
                for line in fh:
                    sid, n, conc = line.rstrip("\n").split("\t")
                    n_calls = int(n)
                    calls[sid] = calls.get(sid, 0) + n_calls
                    tiles[sid] = tiles.get(sid, 0) + 1
                    if n_calls and conc != "NA":
                        correct[sid] = correct.get(sid, 0.0) + float(conc) * n_calls
    for tile in absent or []:
        row = absent_row(tile)
        lines.append("\t".join(str(row[c]) for c in COLUMNS))
    write_text_atomic(out, "\n".join(lines) + "\n")
    failed = [line.split("\t")[0] for line in lines[1:] if line.split("\t")[1] != "ok"]
    if failed:
        log.warning(
            "%d of %d tiles were not embedded (failed and skipped, or without a model): %s; see %s",
            len(failed),
            len(lines) - 1,
            ", ".join(failed[:10]),
            out,
        )
    if samples_out is not None:
        rows = ["sample_id\ttiles\tobserved_calls\treconstruction_concordance"]
        for sid in calls:
            conc = correct.get(sid, 0.0) / calls[sid] if calls[sid] else float("nan")
            rows.append(f"{sid}\t{tiles[sid]}\t{calls[sid]}\t{_fmt(conc)}")
        write_text_atomic(samples_out, "\n".join(rows) + "\n")
