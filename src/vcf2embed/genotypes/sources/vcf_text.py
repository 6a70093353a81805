"""A vectorised reader of VCF text, for bgzipped VCFs: GT calls and DS/GP dosage fields.

htslib (`tabix`) decompresses and cuts the region in a second process; only the records that
supply a model variant are decoded. The common case, a `GT`-only record whose calls are all
diploid with one-digit allele indices (`0|1`, `./.`), is parsed and decoded a chunk of records at
a time with numpy. Any other record (imputed `GT:DS:GP`, `GT:AD:DP:GQ:PL`, haploid calls) is
decoded a record at a time, vectorised where every sample has every field, call by call
otherwise (`vcf_text_decode`). All produce the layout of cyvcf2's `genotype.array()`, so the
tests hold this reader equal to the cyvcf2 one and to `bcftools query`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...errors import InputError
from ...progress import track
from ..paths import check_indexed
from ..quality import info_quality
from ..records import EXACT_LUT, RecordSink, SourceHeader, all_in_order, array_codes, format_label
from .base import Source
from .htslib import (
    CHUNK_BYTES,
    htslib_output,
    htslib_problem,
    popen_tool,
    run_tool,
    tool_reader_unusable,
)
from .vcf_text_decode import decode_record, simple_codes

FIRST_CHUNK_BYTES = 1 << 18
DECODE_LINES = 256  # records decoded together: bounds the temporary arrays


def read_text_header(path: Path) -> SourceHeader:
    """Sample IDs, contig names (from the index) and FORMAT IDs of a bgzipped VCF, via tabix."""
    listing = popen_tool(  # runs while the header is read
        "tabix", "-l", str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    header = run_tool("tabix", "-H", str(path))
    listed_out, listed_err = listing.communicate()
    if header.returncode != 0:
        raise InputError(htslib_problem(path, header.stderr.decode(errors="replace")))
    samples: list[str] | None = None
    formats: set[str] = set()
    for line in header.stdout.decode(errors="replace").splitlines():
        if line.startswith("##FORMAT=<"):
            match = re.search(r"[<,]ID=([^,>]+)", line)
            if match:
                formats.add(match.group(1))
        elif line.startswith("#CHROM"):
            samples = line.rstrip("\n").split("\t")[9:]
    if samples is None:
        raise InputError(f"{path}: cannot be read as VCF (no #CHROM header line)")
    if listing.returncode != 0:
        raise InputError(htslib_problem(path, "index: " + listed_err))
    return SourceHeader(samples, listed_out.split(), frozenset(formats))


class VcfTextSource(Source):
    """A bgzipped, tabix-indexed VCF whose GT text is decoded with numpy."""

    reader = "text"
    # ".gz": any bgzipped VCF, e.g. the lab's per-tile input_chr22<SUFFIX>.gz
    suffixes = (".vcf.gz", ".vcf.bgz", ".gz")
    description = "a bgzipped, tabix-indexed VCF and the `tabix` command or pysam"

    @classmethod
    def unusable(cls, path: Path, genotype_field: str) -> str | None:
        """Why the text reader cannot read `path` here, or None."""
        return tool_reader_unusable(path, "tabix")

    @classmethod
    def check_file(cls, path: Path) -> None:
        """Raise unless `path` exists with a current index."""
        check_indexed(path)

    def read_header(self) -> SourceHeader:
        """The header, through `tabix -H`, and the contigs of the index."""
        return read_text_header(self.path)

    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Align every record of `region`."""
        read_text_region(self.path, region, len(self.header.samples), sink, desc)


def _encoded(texts) -> list[bytes]:
    """UTF-8 bytes of many strings (one encode call for all)."""
    texts = list(texts)
    return "\n".join(texts).encode().split(b"\n") if texts else []


def exact_keys(sink: RecordSink, contig: str) -> dict[tuple[bytes, bytes, bytes, bytes], int]:
    """`(CHROM, POS, REF, ALT)` text of a biallelic record that matches a variant exactly -> the
    variant's index; only variants alone at their position are listed."""
    items = list(sink.exact_alleles().items())
    keys = zip(
        repeat(contig.encode()),
        _encoded(str(pos) for (pos, _, _), _ in items),
        _encoded(ref for (_, ref, _), _ in items),
        _encoded(alt for (_, _, alt), _ in items),
    )
    return dict(zip(keys, (j for _, j in items)))


def _chunks(path: Path, region: str) -> Iterator[bytes]:
    """Yield blocks of whole record lines of `region`, as htslib's tabix cuts them.

    While one block is decoded, tabix decompresses the next into the (widened) pipe.
    """
    with htslib_output("tabix", [str(path), region], path, region) as out:
        pending: list[bytes] = []  # blocks since the last line end: a long line spans several
        size = FIRST_CHUNK_BYTES  # a small first block: decoding starts sooner
        while True:
            block = out.read(size)
            size = CHUNK_BYTES
            if block and block.rfind(b"\n") < 0:
                pending.append(block)
                continue
            data = b"".join([*pending, block]) if pending else block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            pending = [data[cut:]] if cut < len(data) else []
            if cut:
                yield data[:cut] if cut < len(data) else data
            if not block:
                break


def read_text_region(path: Path, region: str, n_samples: int, sink: RecordSink, desc: str) -> None:
    """Align every record of `region` (`contig:start-end`) of a bgzipped VCF, decoding GT text
    with numpy.

    Lines in the common layout (GT only, every call `a|b` or `a/b` with one-digit alleles) are
    parsed a chunk at a time; a record that matches its model variant exactly is decoded with
    the others of its chunk. Any other line goes through `_candidates` and `_decode_group`.
    """
    contig = region.rsplit(":", 1)[0]
    order = sink.order
    all_samples = all_in_order(order, n_samples)
    exact, known = exact_keys(sink, contig), set(_encoded(str(p) for p in sink.by_pos))
    width = 4 * n_samples  # a line's calls, each with the tab before it
    for data in track(_chunks(path, region), desc=desc, unit="chunks"):
        lines = data.split(b"\n")
        if not lines[-1]:
            lines.pop()
        # tabs before a line's last `width` bytes: 8 in the common layout (no copy is made)
        tabs = [line.count(b"\t", 0, len(line) - width) for line in lines]
        if tabs.count(8) == len(lines):
            common: list[int] | range = range(len(lines))
            slow = []
        else:
            common = [k for k, t in enumerate(tabs) if t == 8]
            slow = [k for k, t in enumerate(tabs) if t != 8 and lines[k]]
        fields = b"\t".join([lines[k][:-width] for k in common]).split(b"\t")
        labels = list(zip(fields[0::9], fields[1::9], fields[3::9], fields[4::9]))
        js = list(map(exact.get, labels))
        fast: list[tuple[int, int, tuple]] = []  # (line, variant, label) of exact matches
        for k, j, label, fmt in zip(common, js, labels, fields[8::9]):
            if fmt == b"GT" and sink.dosage is None and sink.quality is None:
                if j is not None:
                    fast.append((k, j, label))
                    continue
                pos = label[1]
                if pos not in known and pos.isdigit() and pos[:1] != b"0":
                    sink.skip()
                    continue
            slow.append(k)
        if fast:
            claimed = sink.claim_exact([j for _, j, _ in fast], [lab for _, _, lab in fast])
            # a variant that already has a record: weigh this one as any other record
            slow += [k for (k, _, _), ok in zip(fast, claimed) if not ok]
            fast = [item for item, ok in zip(fast, claimed) if ok]
            buffer = b"".join([lines[k][-width:] for k, _, _ in fast])
            _decode_exact(
                buffer,
                [j for _, j, _ in fast],
                [lab for _, _, lab in fast],
                sink,
                n_samples,
                order,
                all_samples,
            )
        needed = []
        for k in sorted(slow):
            needed.extend(_candidates(path, region, lines[k], sink))
        for first in range(0, len(needed), DECODE_LINES):
            _decode_group(needed[first : first + DECODE_LINES], sink, n_samples, order, all_samples)


def _decode_exact(
    buffer: bytes,
    js: list[int],
    labels: list[tuple],
    sink: RecordSink,
    n_samples: int,
    order: np.ndarray,
    all_samples: bool,
) -> None:
    """Decode and store the calls of records that match their model variants exactly."""
    if not js:
        return
    codes, phased, valid, _ = simple_codes(buffer, len(js), n_samples)
    if not all_samples:
        codes, phased = codes[:, order], phased[:, order]
    width = 4 * n_samples
    bad = [
        _Item(js[i], EXACT_LUT, b"GT", memoryview(buffer)[i * width : (i + 1) * width], labels[i])
        for i in sink.fill_valid(js, codes, phased, valid)
    ]
    _decode_group(bad, sink, n_samples, order, all_samples)


class _Item(NamedTuple):
    """A record line's claim on one model variant, decoded later with others."""

    j: int
    lut: np.ndarray
    fmt: bytes
    calls: memoryview  # the sample columns, with the tab before them
    label: tuple
    kind: str = "exact"
    alleles: tuple[str, ...] = ()


def _candidates(path: Path, region: str, line: bytes, sink: RecordSink) -> list[_Item]:
    """The model variants one record line supplies, as items for `_decode_group`."""
    try:
        cut = -1
        for _ in range(9):  # the genotype columns follow the 9th tab; they are not copied
            cut = line.index(b"\t", cut + 1)
    except ValueError:
        raise InputError(
            f"{path}: a record in {region} has fewer than 10 columns; a VCF with samples needs 10 or more"
        ) from None
    parts = line[:cut].split(b"\t")
    if not parts[1].isdigit():
        raise InputError(
            f"{path}: a record in {region} has POS {parts[1].decode(errors='replace')!r}, "
            "not a whole number; fix the file (bcftools view reports such records)"
        )
    pos = int(parts[1])
    if pos not in sink.by_pos:
        sink.skip()
        return []
    ref, alt = parts[3].decode(), parts[4].decode()
    alleles = (ref.upper(), *(a.upper() for a in ([] if alt == "." else alt.split(","))))
    label = (parts[0].decode(), pos, ref, alt)
    calls = memoryview(line)[cut:]
    items = [
        _Item(j, lut, parts[8], calls, label, kind, alleles)
        for j, kind, lut in sink.candidates(pos, list(alleles), label)
    ]
    if sink.quality is not None and items:
        value = info_quality(parts[7].decode(errors="replace"))
        for item in items:
            sink.quality[item.j] = np.nan if value is None else value
    return items


def _value_count(field: str, alleles: tuple[str, ...]) -> int:
    """Values per call of a dosage field: DS one per ALT, GP one per diploid genotype."""
    if field == "DS":
        return max(1, len(alleles) - 1)
    return len(alleles) * (len(alleles) + 1) // 2


def _decode_simple(
    group: list[_Item], sink: RecordSink, n_samples: int, order: np.ndarray, all_samples: bool
) -> tuple[dict[int, tuple], bool, bool]:
    """Decode the group's GT-only one-digit records at once: (rows by group index, whether a
    code can be another allele, whether that stored the whole group)."""
    width = 4 * n_samples
    simple = [k for k, item in enumerate(group) if item.fmt == b"GT" and len(item.calls) == width]
    rows: dict[int, tuple[int, np.ndarray, np.ndarray, int]] = {}
    if not simple:
        return rows, False, False
    buffer = b"".join([group[k].calls for k in simple])
    codes, phased, valid, may_have_other = simple_codes(
        buffer, len(simple), n_samples, [group[k].lut for k in simple]
    )
    if not all_samples:
        codes, phased = codes[:, order], phased[:, order]
    if len(simple) == len(group) and valid.all():  # the common case: no copies
        sink.fill_codes([item.j for item in group], codes, phased, may_have_other)
        return rows, may_have_other, True
    for r in np.nonzero(valid)[0]:
        rows[simple[r]] = (group[simple[r]].j, codes[r], phased[r], 0)
    return rows, may_have_other, False


def _decode_group(
    group: list[_Item], sink: RecordSink, n_samples: int, order: np.ndarray, all_samples: bool
) -> None:
    """Decode one group of needed records and store their calls (and dosage values)."""
    field = sink.genotype_field if sink.dosage is not None else None
    rows, may_have_other, done = {}, False, False
    if field is None:
        rows, may_have_other, done = _decode_simple(group, sink, n_samples, order, all_samples)
    if done:
        return
    for k, item in enumerate(group):
        if k in rows:
            continue
        count = _value_count(field, item.alleles) if field else 1
        g, values = decode_record(
            item.fmt, item.calls[1:], n_samples, format_label(item.label), field, count
        )
        if values is not None and not all_samples:
            values = values[order]
        if field is not None:
            sink.fill_dosage(item.j, item.kind, list(item.alleles), item.lut, values)
        if g is None:
            sink.missing_field()
            continue
        c, ph, haploid = array_codes(g if all_samples else g[order], item.lut)
        rows[k] = (item.j, c, ph, haploid)
        may_have_other = True
    ks = sorted(rows)  # file order: a later, better record replaces an earlier one
    if ks:
        sink.fill_codes(
            [rows[k][0] for k in ks],
            np.stack([rows[k][1] for k in ks]),
            np.stack([rows[k][2] for k in ks]),
            may_have_other,
            np.array([rows[k][3] for k in ks], dtype=np.int64),
        )
