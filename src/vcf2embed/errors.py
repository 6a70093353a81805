"""Exceptions that carry a message a user can act on."""


class Vcf2EmbedError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""

    exit_code = 2


class InputError(Vcf2EmbedError):
    """A user-supplied file or setting is wrong."""


class ModelError(Vcf2EmbedError):
    """A model file is missing, malformed or does not fit its variant list."""


class SelectorError(Vcf2EmbedError):
    """A layer selector matched nothing or is malformed."""


class AlignmentError(Vcf2EmbedError):
    """The VCF does not cover enough of a model's variants."""


class OutputError(Vcf2EmbedError):
    """An output file could not be written (disk full, permissions)."""


class TileFailedError(Vcf2EmbedError):
    """A tile failed at an earlier step and was recorded as skipped (`on_tile_error: skip`)."""

    def __init__(self, tile_id: str, stage: str, message: str) -> None:
        super().__init__(f"tile {tile_id} failed in {stage}: {message}")
        self.tile_id, self.stage, self.message = tile_id, stage, message
