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
    from .genotypes import read_samples_file, read_tile_genotypes, resolve_vcf_path
    from .tiles import get_tile
    from .variants import load_variants

    tile = with_model(get_tile(args.tiles, args.tile), args.model)
    variants = load_variants(tile.model, chrom=tile.chrom)
    samples = read_samples_file(args.samples) if args.samples else None
    vcf = resolve_vcf_path(args.vcf, tile)
    result = read_tile_genotypes(
        vcf, tile, variants, samples, args.genotype_field, args.min_variant_match, args.reader
    )
    result.save(args.out)
    qc = result.qc
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
    from .genotypes import TileGenotypes
    from .models import load_model
    from .tiles import read_tiles

    if len(args.genotypes) != len(args.tile):
        raise Vcf2EmbedError(
            f"{len(args.tile)} --tile but {len(args.genotypes)} --genotypes: give one genotypes "
            "file per tile, in the same order"
        )
    models = args.model or [None] * len(args.tile)
    if len(models) != len(args.tile):
        raise Vcf2EmbedError("give --model once per --tile, or not at all")
    table = {t.tile_id: t for t in read_tiles(args.tiles, check_models=False)}
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
            genotypes = TileGenotypes.load(genotypes_path)
            if genotypes.tile_id != tile.tile_id:
                raise Vcf2EmbedError(
                    f"{genotypes_path} holds tile {genotypes.tile_id}, not {tile.tile_id}"
                )
            model = load_model(tile.model, chrom=tile.chrom, allow_user_code=args.allow_user_code)
            _embed_one(args, tile, genotypes, model, config, slot)


def _embed_one(args, tile, genotypes, model, config, slot) -> None:
    from .embed import embed_tile

    started = time.time()
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
        extra_qc={"gpu_slot": slot, "started": started, "finished": time.time()} if slot else None,
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

    samples_out = Path(args.samples_out) if args.samples_out else None
    write_summary([Path(p) for p in args.qc], Path(args.out), samples_out)


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


def _cmd_publish(args: argparse.Namespace) -> None:
    from .files import publish_tile

    for path in publish_tile(args.batch_dir, args.outdir, args.tile):
        log.info("published %s", path)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of all sub-commands."""
    parser = argparse.ArgumentParser(prog="vcf2embed", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vcf2embed {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("genotypes", help="read one tile's genotypes aligned to its model")
    g.add_argument("--vcf", required=True, help="VCF/BCF, or a pattern with {chrom} or {tile}")
    g.add_argument("--tiles", required=True, help="tile table (TSV)")
    g.add_argument("--tile", required=True, help="tile_id to read")
    g.add_argument("--samples", help="file of sample IDs to keep, in output order")
    g.add_argument("--model", help="model path (default: the tile table's)")
    g.add_argument("--genotype-field", default="GT", choices=["GT", "DS", "GP"])
    g.add_argument("--min-variant-match", type=float, default=0.0)
    g.add_argument(
        "--reader",
        choices=["auto", "text", "bcf", "cyvcf2"],
        default="auto",
        help="text: vectorised reader of .vcf.gz GT text; bcf: vectorised reader of BCF records; "
        "cyvcf2: any VCF/BCF (default: auto)",
    )
    g.add_argument("--out", required=True, help="output .npz")
    g.set_defaults(func=_cmd_genotypes)

    e = sub.add_parser(
        "embed", help="run tiles' models and write their embeddings (one process, many tiles)"
    )
    e.add_argument(
        "--genotypes",
        required=True,
        action="append",
        help=".npz from `vcf2embed genotypes` (per --tile)",
    )
    e.add_argument("--tiles", required=True)
    e.add_argument(
        "--tile", required=True, action="append", help="tile_id; repeat for several tiles"
    )
    e.add_argument(
        "--model", action="append", help="model path per --tile (default: the tile table's)"
    )
    e.add_argument("--layers", nargs="*", default=[], help="extra layer selectors besides latent")
    e.add_argument("--device", default="auto")
    e.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--outdir", default="results")
    e.add_argument("--allow-unphased", action="store_true")
    e.add_argument("--allow-user-code", action="store_true")
    e.add_argument("--gpu-slots", help="GPU ids shared by concurrent local jobs, e.g. 0,1")
    e.add_argument("--gpu-lock-dir", help="folder of the slot locks (default OUTDIR/.gpu_slots)")
    e.add_argument("--config-json", help="the run's config, recorded in the metadata")
    e.set_defaults(func=_cmd_embed)

    pb = sub.add_parser("publish", help="link a tile's outputs from an embed batch folder")
    pb.add_argument("--batch-dir", required=True)
    pb.add_argument("--outdir", required=True)
    pb.add_argument("--tile", required=True)
    pb.set_defaults(func=_cmd_publish)

    ly = sub.add_parser("layers", help="show a model's module tree, output shapes and latent")
    ly.add_argument("model")
    ly.add_argument("--chrom", help="chromosome, for positions-only variant lists")
    ly.add_argument("--allow-user-code", action="store_true")
    ly.set_defaults(func=_cmd_layers)

    c = sub.add_parser("convert", help="turn a lab-format model (NAME.pth) into a native bundle")
    c.add_argument("model")
    c.add_argument("out")
    c.add_argument("--chrom")
    c.set_defaults(func=_cmd_convert)

    mx = sub.add_parser(
        "matrix", help="assemble one layer across tiles into a samples x features table"
    )
    mx.add_argument("--embeddings", default="results/embeddings", help="the embeddings folder")
    mx.add_argument("--layer", default="latent")
    mx.add_argument(
        "--tiles", help="tile table: its order sets the feature order (default: by tile_id)"
    )
    mx.add_argument("--out", required=True, help="output .npy or .parquet (plus .features.tsv)")
    mx.set_defaults(func=_cmd_matrix)

    t = sub.add_parser(
        "train", help="train a tile autoencoder (lab architecture) from a VCF region"
    )
    t.add_argument("--vcf", required=True)
    t.add_argument("--region", help="chrom:start-end (1-based, inclusive)")
    t.add_argument("--tiles", help="tile table, with --tile, instead of --region")
    t.add_argument("--tile")
    t.add_argument("--samples", help="file of sample IDs to train on")
    t.add_argument(
        "--out", required=True, help="output folder (a native bundle, or NAME/ for --format lab)"
    )
    t.add_argument("--format", choices=["bundle", "lab"], default="bundle")
    t.add_argument("--min-maf", type=float, default=0.01, help="keep variants with MAF >= this")
    defaults = _train_defaults()
    for name, value in defaults.items():
        t.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("report", help="figures and tables: QC, PCA of latents, layer activations")
    r.add_argument("qc", nargs="+", help="tile QC JSON files")
    r.add_argument("--embeddings", default="results/embeddings")
    r.add_argument("--out", default="results/report")
    r.add_argument("--sample-metadata", help="TSV with sample_id and the column to colour by")
    r.add_argument("--color-by", help="column of --sample-metadata, e.g. population")
    r.add_argument("--samples", nargs="*", help="samples for the activation figure")
    r.add_argument("--tile", help="tile for the activation figure (default: the first)")
    r.add_argument(
        "--no-umap", action="store_true", help="skip UMAP even if umap-learn is installed"
    )
    r.set_defaults(func=_cmd_report)

    s = sub.add_parser("summarize", help="collect per-tile QC JSON files into one TSV")
    s.add_argument("qc", nargs="+")
    s.add_argument("--out", required=True)
    s.add_argument("--samples-out", help="also write per-sample reconstruction concordance here")
    s.set_defaults(func=_cmd_summarize)
    return parser


def _train_defaults() -> dict:
    from dataclasses import asdict

    from .train_settings import TrainSettings

    return asdict(TrainSettings())


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
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        args.func(args)
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
