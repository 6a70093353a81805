"""The visual report: QC table, match and reconstruction per tile, PCA of latents, activations."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import numpy as np

from .errors import InputError
from .files import atomic_path, write_text_atomic
from .matrix import assemble
from .parquet import read_embeddings
from .summary import COLUMNS, read_qc, summary_row

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


def pca(values: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of standardised features: (scores, explained variance ratio)."""
    x = values.astype(np.float64)
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    x = x[:, sd > 0] / sd[sd > 0]
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(k, len(s))
    var = s**2 / (s**2).sum()
    return u[:, :k] * s[:k], var[:k]


def silhouette(points: np.ndarray, labels: list[str]) -> float:
    """Mean silhouette width of labelled points (Euclidean)."""
    labels_arr = np.asarray(labels)
    groups = sorted(set(labels))
    if len(groups) < 2:
        return float("nan")
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    widths = []
    for i, lab in enumerate(labels_arr):
        same = labels_arr == lab
        same[i] = False
        if not same.any():
            continue
        a = d[i, same].mean()
        b = min(d[i, labels_arr == g].mean() for g in groups if g != lab)
        widths.append((b - a) / max(a, b))
    return float(np.mean(widths))


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
    write_text_atomic(
        path,
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>vcf2embed QC</title>"
        "<style>td,th{padding:2px 8px;border-bottom:1px solid #ddd;font:13px sans-serif}</style>"
        f"</head><body><h1>vcf2embed QC per tile</h1><table><tr>{head}</tr>{body}</table></body></html>\n",
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
    """Scatter of two coordinates, coloured by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=8)
    else:
        for group in sorted(set(labels)):
            mask = np.asarray(labels) == group
            ax.scatter(points[mask, 0], points[mask, 1], s=8, label=group)
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
            ids, values = read_embeddings(f)
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
            ax.imshow(
                grid.reshape(side, side), cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{name}\n({width})", fontsize=7)
            if c == 0:
                ax.set_ylabel(sample, fontsize=7)
    fig.suptitle(f"What each layer of {tile_id} sees", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


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
    qcs = [read_qc(p) for p in sorted(qc_paths)]
    if not qcs:
        raise InputError("no tile QC files were given to the report")
    files = {
        "qc_table": qc_table_html(qcs, out / "qc_summary.html"),
        "match": match_figure(qcs, out / "match_concordance.png"),
    }
    tile_ids = [q["tile_id"] for q in qcs]
    matrix = assemble(embeddings, "latent", tile_ids)
    labels = None
    if sample_metadata and color_by:
        table = read_metadata_table(sample_metadata, color_by)
        labels = [table.get(s, "NA") for s in matrix.samples]
    scores, var = pca(matrix.values)
    stats = {
        "n_samples": len(matrix.samples),
        "n_features": int(matrix.values.shape[1]),
        "explained_variance": var.tolist(),
    }
    if labels is not None:
        stats["color_by"] = color_by
        stats["silhouette_pc1_pc2"] = silhouette(scores[:, :2], labels)
    write_text_atomic(out / "latent_pca.json", json.dumps(stats, indent=2) + "\n")
    pcs_tsv = ["sample_id\t" + "\t".join(f"PC{i + 1}" for i in range(scores.shape[1]))]
    pcs_tsv += [
        f"{s}\t" + "\t".join(f"{v:.6g}" for v in row) for s, row in zip(matrix.samples, scores)
    ]
    write_text_atomic(out / "latent_pca.tsv", "\n".join(pcs_tsv) + "\n")
    files["pca"] = scatter_figure(
        scores[:, :2],
        labels,
        f"PCA of latents ({len(tile_ids)} tiles, {matrix.values.shape[1]} features)",
        (f"PC1 ({var[0]:.0%})", f"PC2 ({var[1]:.0%})" if len(var) > 1 else "PC2"),
        out / "latent_pca.png",
    )
    if umap:
        try:
            import umap as umap_module
        except ImportError:
            log.info("umap-learn is not installed: no UMAP figure")
        else:
            embedding = umap_module.UMAP(random_state=0).fit_transform(scores)
            files["umap"] = scatter_figure(
                embedding, labels, "UMAP of latent PCs", ("UMAP1", "UMAP2"), out / "latent_umap.png"
            )
    if not samples:
        if labels is not None:
            samples = [matrix.samples[labels.index(g)] for g in sorted(set(labels))][:4]
        else:
            samples = matrix.samples[:3]
    missing = [s for s in samples if s not in matrix.samples]
    if missing:
        raise InputError(f"report samples not in the embeddings: {', '.join(missing)}")
    shown = tile_id or tile_ids[0]
    order = next((q.get("layer_order") for q in qcs if q["tile_id"] == shown), None)
    files["activations"] = activation_figure(
        embeddings, shown, samples, out / "activations.png", order
    )
    return files
