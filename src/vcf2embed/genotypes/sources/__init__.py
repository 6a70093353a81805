"""The source table: which module reads which genotype file.

Adding a format: one module here with a `Source` subclass (its `reader` name, the `suffixes` it
takes, `read_header` and `read_region`), one entry in `SOURCES`, and one test module.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from ..paths import check_indexed
from .base import Source
from .bcf_binary import BcfSource
from .vcf_cyvcf2 import Cyvcf2Source
from .vcf_text import VcfTextSource

# reader name -> source; `auto` takes the first that can read the file
SOURCES: dict[str, type[Source]] = {
    "text": VcfTextSource,
    "bcf": BcfSource,
    "cyvcf2": Cyvcf2Source,
}
READERS = ("auto", *SOURCES)
# formats named here are recognised, so their error says what to do instead
_NOT_READ = {
    ".pgen": "PLINK 2 .pgen",
    ".bed": "PLINK 1 .bed",
    ".bgen": "BGEN",
    ".vcz": "VCF Zarr",
    ".zarr": "VCF Zarr",
}


def _takes(source: type[Source], path: Path) -> bool:
    return path.name.endswith(source.suffixes)


def check_readable(path: Path) -> None:
    """Raise unless some source takes files named like `path`."""
    if any(_takes(source, path) for source in SOURCES.values()):
        return
    known = sorted({s for source in SOURCES.values() for s in source.suffixes})
    kind = next((name for suffix, name in _NOT_READ.items() if path.name.endswith(suffix)), None)
    if kind:
        raise InputError(
            f"{path}: {kind} input is not read by this version of vcf2embed; convert it to "
            f"BCF (e.g. `plink2 ... --export bcf`) or use one of: {', '.join(known)}"
        )
    if path.name.endswith(".vcf"):
        raise InputError(
            f"{path}: a plain VCF cannot be read by region; compress it with `bgzip {path}`, "
            f"then index it with `tabix -p vcf {path}.gz`"
        )
    raise InputError(
        f"{path}: not a genotype file vcf2embed reads (by its name); use one of: {', '.join(known)}"
    )


def choose_source(path: Path, genotype_field: str, reader: str = "auto") -> Source:
    """Open `path` with the source `reader` names, or with the first that can read it (`auto`)."""
    if reader not in READERS:
        raise InputError(f"reader {reader!r}: use one of {', '.join(READERS)}")
    check_readable(path)
    check_indexed(path)
    if reader != "auto":
        source = SOURCES[reader]
        why = source.unusable(path, genotype_field) if _takes(source, path) else "wrong file type"
        if why:
            raise InputError(
                f"{path}: the {reader} reader needs {source.description} ({why}); use reader: auto"
            )
        return source(path)
    chosen = next(
        s for s in SOURCES.values() if _takes(s, path) and s.unusable(path, genotype_field) is None
    )
    return chosen(path)
