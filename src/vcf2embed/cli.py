"""The `vcf2embed` command line: one sub-command per pipeline step."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import sys
import time
from pathlib import Path

from . import __version__
from .defaults import default
from .errors import Vcf2EmbedError

log = logging.getLogger("vcf2embed")


def with_model(tile, model: str | None):
    """The tile with its model path from --model, or from the table; one of them must be set."""
    import dataclasses

    if model:
        return dataclasses.replace(tile, model=Path(model))
    if tile.model is None:
        raise Vcf2EmbedError(f"tile {tile.tile_id} has no model in the tile table; pass --model")
    return tile


def _cmd_genotypes(args: argparse.Namespace) -> None:
    from .genotypes import read_samples_file, resolve_vcf_path, save_genotypes
    from .tiles import get_tile
    from .variants import load_variants

    tile = with_model(get_tile(args.tiles, args.tile, lab_metadata=args.lab_metadata), args.model)
    samples = read_samples_file(args.samples) if args.samples else None
    try:
        variants = load_variants(tile.model, chrom=tile.chrom)
        _warn_outside_span(tile, variants)
        vcf = resolve_vcf_path(args.vcf, tile)
        result = _read_genotypes(args, tile, variants, samples, vcf)
    except Vcf2EmbedError as exc:
        if args.on_tile_error != "skip":
            raise
        from .tile_failures import write_genotypes_failure

        write_genotypes_failure(args.out, tile.tile_id, str(exc))
        return
    save_genotypes(result, args.out)
    _log_alignment(tile, result.qc)


def _warn_outside_span(tile, variants) -> None:
    """Warn when a model's variants lie outside its tile's span (the model's span is read)."""
    lo, hi = int(variants.pos.min()), int(variants.pos.max())
    if lo < tile.start or hi > tile.end:
        log.warning(
            "tile %s spans %s, but its model's variants lie in %s:%d-%d; the model's variants "
            "are what is read (check that --model belongs to this tile)",
            tile.tile_id,
            tile.region,
            tile.chrom,
            lo,
            hi,
        )


def _read_genotypes(args, tile, variants, samples, vcf):
    """One tile's genotypes as the options ask."""
    from .genotypes import read_tile_genotypes

    return read_tile_genotypes(
        vcf,
        tile,
        variants,
        samples,
        args.genotype_field,
        args.min_variant_match,
        args.reader,
        args.min_info_r2,
        args.info_table,
    )


def _log_alignment(tile, qc) -> None:
    """One log line of how a tile's variants were found."""
    log.info(
        "tile %s: %d samples, %d/%d variants matched (%d exact, %d swapped, %d multi-allelic, "
        "%d by position), %d missing",
        tile.tile_id,
        qc.n_samples,
        qc.matched,
        qc.n_model_variants,
        qc.matched_exact,
        qc.matched_swapped,
        qc.matched_multiallelic,
        qc.matched_by_position,
        qc.missing_variants,
    )


def _cmd_embed(args: argparse.Namespace) -> None:
    release_freed_memory()
    from .errors import TileFailedError
    from .tile_failures import write_embed_failure
    from .tiles import read_tiles

    if len(args.genotypes) != len(args.tile):
        raise Vcf2EmbedError(
            f"{len(args.tile)} --tile but {len(args.genotypes)} --genotypes: give one genotypes "
            "file per tile, in the same order"
        )
    models = args.model or [None] * len(args.tile)
    if len(models) != len(args.tile):
        raise Vcf2EmbedError("give --model once per --tile, or not at all")
    table = {
        t.tile_id: t
        for t in read_tiles(args.tiles, check_models=False, lab_metadata=args.lab_metadata)
    }
    unknown = [t for t in args.tile if t not in table]
    if unknown:
        raise Vcf2EmbedError(f"{args.tiles}: no tile with tile_id {', '.join(unknown)}")
    config = json.loads(args.config_json) if args.config_json else None
    slot_context = contextlib.nullcontext(None)
    if args.gpu_slots:
        from .gpu_slots import gpu_slot, parse_slots

        lock_dir = args.gpu_lock_dir or str(Path(args.outdir) / ".gpu_slots")
        slot_context = gpu_slot(parse_slots(args.gpu_slots), lock_dir)
    with slot_context as slot:
        if slot is not None:
            log.info("holding GPU slot %s (CUDA_VISIBLE_DEVICES=%s)", slot, slot)
        for tile_id, genotypes_path, model_path in zip(args.tile, args.genotypes, models):
            tile = with_model(table[tile_id], model_path)
            try:
                _embed_one(args, tile, genotypes_path, config, slot)
            except TileFailedError as exc:
                if args.on_tile_error != "skip":
                    raise
                write_embed_failure(args.outdir, tile, exc.stage, exc.message)
            except Vcf2EmbedError as exc:
                if args.on_tile_error != "skip":
                    raise
                write_embed_failure(args.outdir, tile, "embed", str(exc))


def _embed_one(args, tile, genotypes_path, config, slot) -> None:
    """Load one tile's genotypes and model, and embed it."""
    from .embed import embed_tile
    from .genotypes import load_genotypes
    from .models import load_model

    genotypes = load_genotypes(genotypes_path)
    if genotypes.tile_id != tile.tile_id:
        raise Vcf2EmbedError(f"{genotypes_path} holds tile {genotypes.tile_id}, not {tile.tile_id}")
    model = load_model(tile.model, chrom=tile.chrom, allow_user_code=args.allow_user_code)
    result = embed_tile(
        genotypes,
        tile,
        model,
        args.outdir,
        layers=args.layers,
        device=args.device,
        batch_size=args.batch_size,
        dtype=args.dtype,
        allow_unphased=args.allow_unphased,
        config=config,
        extra_qc={"gpu_slot": slot} if slot else None,
    )
    log.info("tile %s: wrote %s", tile.tile_id, ", ".join(sorted(result.files)))


def _cmd_layers(args: argparse.Namespace) -> None:
    from .layers import layer_table
    from .models import load_model

    model = load_model(args.model, chrom=args.chrom, allow_user_code=args.allow_user_code)
    print(layer_table(model))


def _cmd_convert(args: argparse.Namespace) -> None:
    from .models import convert_lab_model

    out = convert_lab_model(args.model, args.out, chrom=args.chrom)
    log.info("wrote native bundle %s", out)


def _cmd_summarize(args: argparse.Namespace) -> None:
    from .summary import write_summary
    from .tiles import unmodelled_regions

    samples_out = Path(args.samples_out) if args.samples_out else None
    absent = unmodelled_regions(args.tiles, args.lab_metadata) if args.tiles else []
    write_summary([Path(p) for p in args.qc], Path(args.out), samples_out, absent)


def _cmd_matrix(args: argparse.Namespace) -> None:
    from .matrix import assemble, write_matrix
    from .tiles import read_tiles

    tile_ids = (
        [t.tile_id for t in read_tiles(args.tiles, check_models=False)] if args.tiles else None
    )
    matrix = assemble(args.embeddings, args.layer, tile_ids)
    for path in write_matrix(matrix, args.out):
        log.info("wrote %s", path)
    log.info("%d samples x %d features", *matrix.values.shape)


def _cmd_train(args: argparse.Namespace) -> None:
    from .genotypes import read_samples_file
    from .tiles import Tile, get_tile
    from .train import save_trained, train_from_vcf
    from .train_settings import TrainSettings

    if args.region:
        chrom, _, span = args.region.partition(":")
        try:
            start, end = (int(x.replace(",", "")) for x in span.split("-"))
        except ValueError:
            raise Vcf2EmbedError(f"--region {args.region!r}: use chrom:start-end") from None
        tile = Tile(Path(args.out).name, chrom, start, end, Path(args.out))
    elif args.tiles and args.tile:
        tile = get_tile(args.tiles, args.tile, check_models=False)
    else:
        raise Vcf2EmbedError("give --region chrom:start-end, or --tiles and --tile")
    settings = TrainSettings(
        n_layers=args.n_layers,
        size_ratio=args.size_ratio,
        activation=args.activation,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        mask_rate=args.mask_rate,
        validation_fraction=args.validation_fraction,
        patience=args.patience,
        seed=args.seed,
    )
    samples = read_samples_file(args.samples) if args.samples else None
    result, variants = train_from_vcf(
        args.vcf, tile, settings, args.min_maf, samples, progress=sys.stderr.isatty()
    )
    out = save_trained(result, variants, args.out, args.format)
    log.info(
        "tile %s: %d variants, best epoch %d, validation concordance %.4f (masked %.4f); wrote %s",
        tile.tile_id,
        len(variants),
        result.best_epoch,
        result.validation_concordance,
        result.validation_masked_concordance,
        out,
    )


def _cmd_report(args: argparse.Namespace) -> None:
    from .report import make_report

    if args.color_by and not args.sample_metadata:
        raise Vcf2EmbedError(
            f"--color-by {args.color_by} needs --sample-metadata, the table that holds that column"
        )
    files = make_report(
        [Path(p) for p in args.qc],
        args.embeddings,
        args.out,
        sample_metadata=args.sample_metadata,
        color_by=args.color_by,
        samples=args.samples or None,
        tile_id=args.tile,
        umap=not args.no_umap,
    )
    for name, path in files.items():
        log.info("report %s: %s", name, path)


def _cmd_export(args: argparse.Namespace) -> None:
    from . import export

    tiles = args.tiles.split(",") if args.tiles else None
    if args.format == "h5ad":
        path = export.write_h5ad(args.outdir, args.out, args.layer, tiles, args.sample_metadata)
    elif args.format == "covar":
        dims = args.dims.split(",") if args.dims else None
        path = export.write_covariates(
            args.outdir, args.out, args.layer, tiles, dims, args.pcs, args.fid
        )
    else:
        table = export.read_embeddings(args.outdir, args.layer, tiles, arrow=True)
        import pyarrow.parquet as pq

        from .files import atomic_path

        path = Path(args.out)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
    log.info("wrote %s", path)


def _cmd_publish(args: argparse.Namespace) -> None:
    from .files import publish_tile

    for path in publish_tile(args.batch_dir, args.outdir, args.tile, args.layer):
        log.info("published %s", path)


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
    _on_tile_error_argument(p)
    _lab_metadata_argument(p)
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=_cmd_genotypes)


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
    p.set_defaults(func=_cmd_embed)


def _publish_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-dir", required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--tile", required=True)
    p.add_argument("--layer", help="publish this captured layer's file only (e.g. encoder.0)")
    p.set_defaults(func=_cmd_publish)


def _layers_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model")
    p.add_argument("--chrom", help="chromosome, for positions-only variant lists")
    p.add_argument("--allow-user-code", action="store_true")
    p.set_defaults(func=_cmd_layers)


def _convert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--chrom")
    p.set_defaults(func=_cmd_convert)


def _matrix_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embeddings", default="results/embeddings", help="the embeddings folder")
    p.add_argument("--layer", default="latent")
    p.add_argument(
        "--tiles", help="tile table: its order sets the feature order (default: by tile_id)"
    )
    p.add_argument("--out", required=True, help="output .npy or .parquet (plus .features.tsv)")
    p.set_defaults(func=_cmd_matrix)


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
    p.set_defaults(func=_cmd_train)


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
    p.set_defaults(func=_cmd_report)


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
    p.set_defaults(func=_cmd_export)


def _summarize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("qc", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--samples-out", help="also write per-sample reconstruction concordance here")
    p.add_argument("--tiles", help="the tile table: its lab regions without a model are listed")
    _lab_metadata_argument(p)
    p.set_defaults(func=_cmd_summarize)


_COMMANDS = {
    "genotypes": ("read one tile's genotypes aligned to its model", _genotypes_arguments),
    "embed": (
        "run tiles' models and write their embeddings (one process, many tiles)",
        _embed_arguments,
    ),
    "publish": ("link a tile's outputs from an embed batch folder", _publish_arguments),
    "layers": ("show a model's module tree, output shapes and latent", _layers_arguments),
    "convert": ("turn a lab-format model (NAME.pth) into a native bundle", _convert_arguments),
    "matrix": (
        "assemble one layer across tiles into a samples x features table",
        _matrix_arguments,
    ),
    "train": ("train a tile autoencoder (lab architecture) from a VCF region", _train_arguments),
    "report": ("figures and tables: QC, PCA of latents, layer activations", _report_arguments),
    "summarize": ("collect per-tile QC JSON files into one TSV", _summarize_arguments),
    "export": (
        "one layer for downstream tools: AnnData, REGENIE/PLINK 2 covariates, wide Parquet",
        _export_arguments,
    ),
}


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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser: every sub-command, with the options of `command` (of all
    when None; building only one saves each pipeline job a little start-up)."""
    parser = argparse.ArgumentParser(prog="vcf2embed", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vcf2embed {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, formatter_class=_DefaultsShown)
        if command in (None, name):
            add_arguments(p)
            _describe_config_options(p)
    return parser


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


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named in `argv`, if any."""
    return next((arg for arg in argv if arg in _COMMANDS), None)


def _train_defaults() -> dict:
    from dataclasses import asdict

    from .train_settings import TrainSettings

    return asdict(TrainSettings())


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (its helper processes, e.g. tabix, apart)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1 << 20)


def release_freed_memory() -> None:
    """Have glibc hand large freed blocks straight back, so a job's peak stays near its live data.

    By default glibc raises its mmap threshold after the first large free and keeps later
    batch-sized buffers in a heap it seldom trims; fixing the threshold avoids that growth, at
    the price of fresh pages for every large temporary (the embed step's batches are few and
    large; the genotypes step's many chunk temporaries would pay for it in page faults).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 4 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 4 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: its allocator keeps its own policy
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and a non-zero exit."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command_of(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    started = time.perf_counter()
    try:
        args.func(args)
        log.info(
            "%s done in %.2f s, peak memory %.0f MB",
            args.command,
            time.perf_counter() - started,
            peak_rss_mb(),
        )
    except Vcf2EmbedError as exc:
        message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"vcf2embed {args.command}: error: {message}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file that vanished, a full disk, missing permissions
        where = f" {exc.filename}" if exc.filename else ""
        print(f"vcf2embed {args.command}: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vcf2embed {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
