"""What each `vcf2embed` sub-command does (the argument parser is in `cli_options`)."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import sys
from pathlib import Path

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
        args.threads,
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
    from .publish import publish_tile

    keep = args.keep_layers.split(",") if args.keep_layers else None
    for path in publish_tile(args.batch_dir, args.outdir, args.tile, args.layer, keep):
        log.info("published %s", path)


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
