"""The source table: which module reads which genotype file.

Adding a format: one module here with a `Source` subclass (its `reader` name, the `suffixes` it
takes, `read_header` and `read_region`), one entry in `SOURCES`, and one test module.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from .base import Source
from .bcf_binary import BcfSource
from .bgen import BgenSource
from .plink import BedSource, PgenSource
from .vcf_cyvcf2 import Cyvcf2Source
from .vcf_text import VcfTextSource
from .vcz import VczSource

# reader name -> source; `auto` takes the first that can read the file
SOURCES: dict[str, type[Source]] = {
    "text": VcfTextSource,
    "bcf": BcfSource,
    "cyvcf2": Cyvcf2Source,
    "pgen": PgenSource,
    "bed": BedSource,
    "bgen": BgenSource,
    "vcz": VczSource,
}
READERS = ("auto", *SOURCES)


def _takes(source: type[Source], path: Path) -> bool:
    return path.name.endswith(source.suffixes)


def check_readable(path: Path) -> None:
    """Raise unless some source takes files named like `path`."""
    if any(_takes(source, path) for source in SOURCES.values()):
        return
    known = sorted({s for source in SOURCES.values() for s in source.suffixes})
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
    if reader != "auto":
        source = SOURCES[reader]
        source.check_file(path)
        why = source.unusable(path, genotype_field) if _takes(source, path) else "wrong file type"
        if why:
            raise InputError(
                f"{path}: the {reader} reader needs {source.description} ({why}); use reader: auto"
            )
        return source(path)
    takers = [s for s in SOURCES.values() if _takes(s, path)]
    takers[0].check_file(path)
    chosen = next(s for s in takers if s.unusable(path, genotype_field) is None)
    return chosen(path)


def companion_files(path: Path) -> list[Path]:
    """The files a genotype file is read with, that exist beside it (indexes, sample and
    variant tables), so that a workflow reruns when one changes."""
    name = path.name
    candidates = {
        ".pgen": [".pvar", ".pvar.zst", ".psam"],
        ".bed": [".bim", ".fam"],
        ".bgen": [".sample", ".bgen.bgi"],
    }
    for suffix, others in candidates.items():
        if name.endswith(suffix):
            stem = path.with_suffix("")
            return [p for p in (stem.with_name(stem.name + o) for o in others) if p.is_file()]
    return [p for p in (path.with_name(name + s) for s in (".tbi", ".csi")) if p.is_file()]
