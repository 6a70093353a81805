"""The visual report: QC table, match and reconstruction per tile, PCA of latents, activations."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import numpy as np

from .errors import InputError
from .files import atomic_path, write_text_atomic
from .latent_pca import (
    PCA_FIT_SAMPLES,
    SILHOUETTE_SAMPLES,
    LatentPCA,
    latent_pca,
    silhouette,
    stratified_subsample,
)
from .parquet import read_embedding_rows
from .summary import COLUMNS, read_qc, summary_row

PLOT_POINTS = 20_000  # points a scatter plot shows at most (a seeded, stratified subsample)

log = logging.getLogger(__name__)


def read_metadata_table(path: str | Path, column: str) -> dict[str, str]:
    """Map sample_id to the value of `column` in a TSV with a header."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sample_metadata {path} does not exist")
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    if "sample_id" not in header or column not in header:
        raise InputError(
            f"{path}: needs columns sample_id and {column}; it has {', '.join(header)}"
        )
    i, j = header.index("sample_id"), header.index(column)
    return {f[i]: f[j] for f in (line.split("\t") for line in lines[1:] if line.strip())}


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=120, bbox_inches="tight")
    return path


def qc_table_html(qcs: list[dict], path: Path) -> Path:
    """Write the per-tile QC summary as an HTML table."""
    rows = [summary_row(q) for q in qcs]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in COLUMNS) + "</tr>"
        for r in rows
    )
    skipped = [r for r in rows if r["status"] != "ok"]
    note = (
        f"<p><b>{len(skipped)} of {len(rows)} tiles were skipped</b> (on_tile_error: skip):</p><ul>"
        + "".join(
            f"<li>{html.escape(str(r['tile_id']))} ({html.escape(r['status'])}): "
            f"{html.escape(str(r['error']))}</li>"
            for r in skipped
        )
        + "</ul>"
        if skipped
        else ""
    )
    write_text_atomic(
        path,
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>vcf2embed QC</title>"
        "<style>td,th{padding:2px 8px;border-bottom:1px solid #ddd;font:13px sans-serif}</style>"
        f"</head><body><h1>vcf2embed QC per tile</h1>{note}<table><tr>{head}</tr>{body}"
        "</table></body></html>\n",
    )
    return path


def match_figure(qcs: list[dict], path: Path) -> Path:
    """Bar chart of each tile's variant match rate and reconstruction concordance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tiles = [q["tile_id"] for q in qcs]
    match = [q["alignment"]["match_rate"] for q in qcs]
    conc = [q.get("reconstruction", {}).get("concordance", np.nan) for q in qcs]
    x = np.arange(len(tiles))
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(tiles) + 2), 3.5))
    ax.bar(x - 0.2, match, 0.4, label="variant match rate")
    ax.bar(x + 0.2, conc, 0.4, label="reconstruction concordance")
    ax.set_xticks(x, tiles, rotation=90 if len(tiles) > 12 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Per tile: model variants found, and genotypes reconstructed")
    out = _save(fig, path)
    plt.close(fig)
    return out


def scatter_figure(
    points: np.ndarray, labels: list[str] | None, title: str, axes: tuple[str, str], path: Path
) -> Path:
    """Scatter of two coordinates, coloured by label; a seeded, stratified subsample of at most
    `PLOT_POINTS` points (the title says so), so that large cohorts stay readable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(points)
    shown = stratified_subsample(labels or ["all"] * n, PLOT_POINTS)
    if len(shown) < n:
        points = points[shown]
        labels = [labels[i] for i in shown] if labels is not None else None
        title = f"{title}\n({len(shown):,} of {n:,} samples shown)"
    fig, ax = plt.subplots(figsize=(5, 4.5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=8 if n <= 2000 else 2)
    else:
        for group in sorted(set(labels)):
            mask = np.asarray(labels) == group
            ax.scatter(points[mask, 0], points[mask, 1], s=8 if n <= 2000 else 2, label=group)
        ax.legend(fontsize=8, markerscale=2)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def activation_figure(
    embeddings: Path, tile_id: str, samples: list[str], path: Path, order: list[str] | None = None
) -> Path:
    """For chosen samples, every captured layer of one tile side by side, each as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = []
    for folder in sorted(embeddings.glob("layer=*")):
        f = folder / f"{tile_id}.parquet"
        if f.exists():
            ids, values = read_embedding_rows(f, samples)
            layers.append((folder.name.split("=", 1)[1], ids, values))
    if not layers:
        raise InputError(f"{embeddings}: no embedding files for tile {tile_id}")
    rank = {name: i for i, name in enumerate(order or [])}
    layers.sort(key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    fig, axes = plt.subplots(
        len(samples),
        len(layers),
        figsize=(1.6 * len(layers) + 1, 1.6 * len(samples) + 0.6),
        squeeze=False,
    )
    for c, (name, ids, values) in enumerate(layers):
        index = {s: i for i, s in enumerate(ids)}
        width = values.shape[1]
        side = int(np.ceil(np.sqrt(width)))
        lo, hi = float(values.min()), float(values.max())
        for r, sample in enumerate(samples):
            grid = np.full(side * side, np.nan)
            grid[:width] = values[index[sample]]
            ax = axes[r, c]
            image = ax.imshow(
                grid.reshape(side, side), cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{name}\n({width})", fontsize=7)
            if c == 0:
                ax.set_ylabel(sample, fontsize=7)
        fig.colorbar(image, ax=axes[:, c].tolist(), shrink=0.6, pad=0.02).ax.tick_params(
            labelsize=5
        )  # each layer's own scale
    fig.suptitle(f"What each layer of {tile_id} sees", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


def note_figure(text: str, path: Path) -> Path:
    """A figure that says why the figure it stands for could not be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    out = _save(fig, path)
    plt.close(fig)
    return out


def write_scores(result: LatentPCA, path: Path) -> None:
    """The PC scores of every sample as TSV, written a row at a time."""
    header = "sample_id\t" + "\t".join(f"PC{i + 1}" for i in range(result.scores.shape[1]))
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(header.rstrip("\t") + "\n")
        for sid, row in zip(result.samples, result.scores):
            fh.write(sid + "".join(f"\t{v:.6g}" for v in row) + "\n")


def pca_section(
    result: LatentPCA, labels: list[str] | None, color_by: str | None, n_tiles: int, out: Path
) -> dict[str, Path]:
    """Write the PCA's statistics, scores and figure; say in them what could not be computed."""
    stats: dict = {
        "n_samples": len(result.samples),
        "n_features": result.n_features,
        "explained_variance": result.explained.tolist(),
        "pca_fit_samples": int(len(result.fit_rows)),
        "pca_fit_cap": PCA_FIT_SAMPLES,
        "notes": list(result.notes),
    }
    var = result.explained
    if labels is not None:
        stats["color_by"] = color_by
        stats["silhouette_samples_cap"] = SILHOUETTE_SAMPLES
        if result.scores.shape[1] >= 1 and len(set(labels)) >= 2:
            pick = stratified_subsample(labels, SILHOUETTE_SAMPLES)
            stats["silhouette_samples"] = int(len(pick))
            stats["silhouette_pc1_pc2"] = silhouette(
                result.scores[pick, :2], [labels[i] for i in pick]
            )
        else:
            stats["silhouette_pc1_pc2"] = None
            stats["notes"].append("no separation score: it needs 2 label groups and a PC")
    write_text_atomic(out / "latent_pca.json", json.dumps(stats, indent=2) + "\n")
    write_scores(result, out / "latent_pca.tsv")
    if result.scores.shape[1] == 0:
        figure = note_figure(f"No PCA of latents: {result.notes[0]}", out / "latent_pca.png")
        return {"pca": figure}
    points = result.scores[:, :2]
    if points.shape[1] == 1:
        points = np.column_stack([points[:, 0], np.zeros(len(points))])
    return {
        "pca": scatter_figure(
            points,
            labels,
            f"PCA of latents ({n_tiles} tiles, {result.n_features} features)",
            (f"PC1 ({var[0]:.0%})", f"PC2 ({var[1]:.0%})" if len(var) > 1 else "PC2 (none)"),
            out / "latent_pca.png",
        )
    }


def umap_section(result: LatentPCA, labels: list[str] | None, out: Path) -> dict[str, Path]:
    """UMAP of the PC scores when umap-learn is installed (on at most `PLOT_POINTS` samples)."""
    try:
        import umap as umap_module
    except ImportError:
        log.info("umap-learn is not installed: no UMAP figure")
        return {}
    pick = stratified_subsample(labels or ["all"] * len(result.samples), PLOT_POINTS)
    if len(pick) < 4 or result.scores.shape[1] < 2:
        figure = note_figure("No UMAP: it needs 4 samples and 2 PCs", out / "latent_umap.png")
        return {"umap": figure}
    embedding = umap_module.UMAP(random_state=0).fit_transform(result.scores[pick])
    shown = [labels[i] for i in pick] if labels is not None else None
    title = f"UMAP of latent PCs ({len(pick):,} of {len(result.samples):,} samples)"
    path = out / "latent_umap.png"
    return {"umap": scatter_figure(embedding, shown, title, ("UMAP1", "UMAP2"), path)}


def default_report_samples(samples: list[str], labels: list[str] | None) -> list[str]:
    """One sample per colour group (at most 4), or the first 3."""
    if labels is None:
        return samples[:3]
    first: dict[str, str] = {}
    for sid, label in zip(samples, labels):
        first.setdefault(label, sid)
    return [first[g] for g in sorted(first)][:4]


def make_report(
    qc_paths: list[Path],
    embeddings: str | Path,
    out: str | Path,
    sample_metadata: str | Path | None = None,
    color_by: str | None = None,
    samples: list[str] | None = None,
    tile_id: str | None = None,
    umap: bool = True,
) -> dict[str, Path]:
    """Write the report figures and tables into `out`; return them by name."""
    out = Path(out)
    embeddings = Path(embeddings)
    every = [read_qc(p) for p in sorted(qc_paths)]
    if not every:
        raise InputError("no tile QC files were given to the report")
    qcs = [q for q in every if q.get("status") != "failed"]
    if not qcs:
        raise InputError("every tile failed (see qc_summary.tsv): nothing to report")
    files = {
        "qc_table": qc_table_html(every, out / "qc_summary.html"),
        "match": match_figure(qcs, out / "match_concordance.png"),
    }
    tile_ids = [q["tile_id"] for q in qcs]
    result = latent_pca(embeddings, tile_ids)
    labels = None
    if sample_metadata and color_by:
        table = read_metadata_table(sample_metadata, color_by)
        labels = [table.get(s, "NA") for s in result.samples]
    files.update(pca_section(result, labels, color_by, len(tile_ids), out))
    if umap:
        files.update(umap_section(result, labels, out))
    samples = samples or default_report_samples(result.samples, labels)
    known = set(result.samples)
    missing = [s for s in samples if s not in known]
    if missing:
        raise InputError(f"report samples not in the embeddings: {', '.join(missing)}")
    shown = tile_id or tile_ids[0]
    order = next((q.get("layer_order") for q in qcs if q["tile_id"] == shown), None)
    files["activations"] = activation_figure(
        embeddings, shown, samples, out / "activations.png", order
    )
    return files
