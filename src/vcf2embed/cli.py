"""The `vcf2embed` command line: one sub-command per pipeline step."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from . import __version__
from .cli_options import (
    _check_arguments,
    _convert_arguments,
    _DefaultsShown,
    _describe_config_options,
    _embed_arguments,
    _export_arguments,
    _genotypes_arguments,
    _layers_arguments,
    _matrix_arguments,
    _publish_arguments,
    _report_arguments,
    _summarize_arguments,
    _train_arguments,
)
from .commands import peak_rss_mb
from .errors import Vcf2EmbedError

log = logging.getLogger("vcf2embed")


_COMMANDS = {
    "check": (
        "check a workflow config before a run: inputs, indexes, contigs, samples, models, "
        "variant match; print the plan",
        _check_arguments,
    ),
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


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named in `argv`, if any."""
    return next((arg for arg in argv if arg in _COMMANDS), None)


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
