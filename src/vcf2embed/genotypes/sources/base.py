"""What every genotype source is: one file of one format, its header read once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from ...errors import InputError
from ..records import RecordSink, SourceHeader
from ..samples import check_unique_samples


class Source(ABC):
    """One genotype file: its header, and the records of any region, put into a sink.

    A subclass reads one format; `reader` is the setting that asks for it and `suffixes` the
    file names it takes. `unusable` says why it cannot read a file here (None: it can).
    """

    reader: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    description: ClassVar[str]

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header = self.read_header()
        check_unique_samples(path, self.header.samples)

    @classmethod
    def check_file(cls, path: Path) -> None:
        """Raise unless `path` exists (and has what the format needs beside it, e.g. an index)."""
        if not path.exists():
            raise InputError(f"genotype file {path} does not exist; check `vcf:` in the config")

    @classmethod
    def unusable(cls, path: Path, genotype_field: str) -> str | None:
        """Why this source cannot read `genotype_field` from `path` here, or None."""
        return None

    @abstractmethod
    def read_header(self) -> SourceHeader:
        """Samples, contigs and per-call fields of the file."""

    @abstractmethod
    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Put every record of `region` (`contig:start-end`) into `sink`."""
