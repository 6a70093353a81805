"""The options of each `vcf2embed` sub-command, their defaults from the config schema."""

from __future__ import annotations

import argparse

from . import commands
from .defaults import DEFAULT_THREADS, default


def _genotypes_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--vcf",
        required=True,
        help="genotype file (VCF/BCF, PGEN, BED, BGEN, VCZ), or a pattern with {chrom}, {tile} "
        "or {suffix}",
    )
    p.add_argument("--tiles", required=True, help="tile table (TSV)")
    p.add_argument("--tile", required=True, help="tile_id to read")
    p.add_argument("--samples", help="file of sample IDs to keep, in output order")
    p.add_argument("--model", help="model path (default: the tile table's)")
    p.add_argument(
        "--genotype-field", default=default("genotype_field"), choices=_enum("genotype_field")
    )
    p.add_argument("--min-variant-match", type=float, default=default("min_variant_match"))
    p.add_argument(
        "--reader",
        choices=_enum("reader"),
        default=default("reader"),
        help="auto picks by file name; text: vectorised reader of .vcf.gz; bcf: of BCF records; "
        "cyvcf2: any VCF/BCF; pgen, bed, bgen, vcz: those formats",
    )
    p.add_argument(
        "--min-info-r2",
        type=float,
        default=default("min_info_r2"),
        help="variants imputed below this quality get the missing encoding (0: keep all)",
    )
    p.add_argument(
        "--info-table", help="imputation scores (UK Biobank mfi, or TSV pos ref alt info)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="2 or more: PGEN/BED/BGEN/VCZ records are converted beside the reads",
    )
    _on_tile_error_argument(p)
    _lab_metadata_argument(p)
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=commands._cmd_genotypes)


def _embed_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--genotypes",
        required=True,
        action="append",
        help=".npz from `vcf2embed genotypes` (per --tile)",
    )
    p.add_argument("--tiles", required=True)
    p.add_argument(
        "--tile", required=True, action="append", help="tile_id; repeat for several tiles"
    )
    p.add_argument(
        "--model", action="append", help="model path per --tile (default: the tile table's)"
    )
    p.add_argument(
        "--layers",
        nargs="*",
        default=default("layers"),
        help="extra layer selectors besides latent",
    )
    p.add_argument("--device", default=default("device"))
    p.add_argument("--dtype", default=default("dtype"), choices=_enum("dtype"))
    p.add_argument("--batch-size", type=int, default=default("batch_size"))
    p.add_argument("--outdir", default=default("outdir"))
    p.add_argument("--allow-unphased", action="store_true")
    p.add_argument("--allow-user-code", action="store_true")
    p.add_argument("--gpu-slots", help="GPU ids shared by concurrent local jobs, e.g. 0,1")
    p.add_argument("--gpu-lock-dir", help="folder of the slot locks (default OUTDIR/.gpu_slots)")
    p.add_argument("--config-json", help="the run's config, recorded in the metadata")
    _on_tile_error_argument(p)
    _lab_metadata_argument(p)
    p.set_defaults(func=commands._cmd_embed)


def _publish_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-dir", required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--tile", required=True)
    p.add_argument("--layer", help="publish this captured layer's file only (e.g. encoder.0)")
    p.add_argument(
        "--keep-layers", help="comma-separated layers that are not stale (published on their own)"
    )
    p.set_defaults(func=commands._cmd_publish)


def _layers_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model")
    p.add_argument("--chrom", help="chromosome, for positions-only variant lists")
    p.add_argument("--allow-user-code", action="store_true")
    p.set_defaults(func=commands._cmd_layers)


def _convert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--chrom")
    p.set_defaults(func=commands._cmd_convert)


def _matrix_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embeddings", default="results/embeddings", help="the embeddings folder")
    p.add_argument("--layer", default="latent")
    p.add_argument(
        "--tiles", help="tile table: its order sets the feature order (default: by tile_id)"
    )
    p.add_argument("--out", required=True, help="output .npy or .parquet (plus .features.tsv)")
    p.set_defaults(func=commands._cmd_matrix)


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vcf", required=True)
    p.add_argument("--region", help="chrom:start-end (1-based, inclusive)")
    p.add_argument("--tiles", help="tile table, with --tile, instead of --region")
    p.add_argument("--tile")
    p.add_argument("--samples", help="file of sample IDs to train on")
    p.add_argument(
        "--out", required=True, help="output folder (a native bundle, or NAME/ for --format lab)"
    )
    p.add_argument("--format", choices=["bundle", "lab"], default="bundle")
    p.add_argument("--min-maf", type=float, default=0.01, help="keep variants with MAF >= this")
    defaults = _train_defaults()
    for name, value in defaults.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    p.set_defaults(func=commands._cmd_train)


def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("qc", nargs="+", help="tile QC JSON files")
    p.add_argument("--embeddings", default="results/embeddings")
    p.add_argument("--out", default="results/report")
    p.add_argument("--sample-metadata", help="TSV with sample_id and the column to colour by")
    p.add_argument("--color-by", help="column of --sample-metadata, e.g. population")
    p.add_argument("--samples", nargs="*", help="samples for the activation figure")
    p.add_argument("--tile", help="tile for the activation figure (default: the first)")
    p.add_argument(
        "--no-umap", action="store_true", help="skip UMAP even if umap-learn is installed"
    )
    p.set_defaults(func=commands._cmd_report)


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outdir", default=default("outdir"), help="the workflow's output folder")
    p.add_argument("--layer", default="latent")
    p.add_argument("--tiles", help="comma-separated tile IDs (default: every tile with rows)")
    p.add_argument(
        "--format",
        choices=["h5ad", "covar", "parquet"],
        required=True,
        help="h5ad: AnnData; covar: REGENIE/PLINK 2 covariates (FID IID ...); parquet: wide table",
    )
    p.add_argument("--out", required=True)
    p.add_argument("--sample-metadata", help="h5ad: TSV with sample_id whose columns go to obs")
    p.add_argument("--dims", help="covar: comma-separated features (tile:index) to write")
    p.add_argument("--pcs", type=int, default=0, help="covar: write the top N PCs instead")
    p.add_argument("--fid", help="covar: FID of every sample (default: the IID, as --double-id)")
    p.set_defaults(func=commands._cmd_export)


def _check_arguments(p: argparse.ArgumentParser) -> None:
    from .preflight_report import cmd_check

    p.add_argument("--configfile", required=True, help="the workflow config to check")
    p.add_argument("--directory", default=".", help="the folder the config's paths are relative to")
    p.add_argument("--all", action="store_true", help="list every tile, not the first 20")
    p.set_defaults(func=cmd_check)


def _summarize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("qc", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--samples-out", help="also write per-sample reconstruction concordance here")
    p.add_argument("--tiles", help="the tile table: its lab regions without a model are listed")
    _lab_metadata_argument(p)
    p.set_defaults(func=commands._cmd_summarize)


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, but not the empty ones."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action)


def _describe_config_options(p: argparse.ArgumentParser) -> None:
    """Give options that mirror a config key without help of their own that key's description."""
    from .defaults import schema

    keys = schema()["properties"]
    for action in p._actions:
        if action.help is None and action.dest in keys:
            action.help = keys[action.dest].get("description", f"the config key {action.dest}")


def _lab_metadata_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lab-metadata",
        help="the lab's metadata.tsv (default: beside the regions file, else "
        "best_model_weights/metadata.tsv)",
    )


def _on_tile_error_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--on-tile-error",
        choices=_enum("on_tile_error"),
        default=default("on_tile_error"),
        help="skip: record a failing tile (empty outputs, status failed in its QC) and go on",
    )


def _enum(key: str) -> list[str]:
    """The values the config schema allows for `key`."""
    from .defaults import schema

    return list(schema()["properties"][key]["enum"])


def _train_defaults() -> dict:
    from dataclasses import asdict

    from .train_settings import TrainSettings

    return asdict(TrainSettings())
