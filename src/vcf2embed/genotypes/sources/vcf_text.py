"""A vectorised reader of raw GT text, for bgzipped VCFs.

htslib (`tabix`) decompresses and cuts the region; only the records that supply a model variant
are decoded. The common case, a `GT`-only record whose calls are all diploid with one-digit allele
indices (`0|1`, `./.`), is parsed and decoded a chunk of records at a time with numpy: every call
with the tab before it is then exactly four bytes (tab, `a`, separator, `b`). GT-only records
mixing haploid and diploid one-digit calls are decoded a record at a time with numpy; any other
record (more FORMAT fields, multi-digit calls) goes through a per-call parser. All produce the
layout of cyvcf2's
`genotype.array()` (allele indices, -1 missing, -2 for the absent second allele of a haploid
call, last column phased), so alignment is shared with the cyvcf2 reader, and the tests hold the
two readers equal.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...progress import track
from ..paths import find_index
from ..records import EXACT_LUT, RecordSink, SourceHeader, all_in_order, array_codes, format_label
from .base import Source
from .htslib import CHUNK_BYTES, htslib_output, htslib_problem

FIRST_CHUNK_BYTES = 1 << 18
DECODE_LINES = 256  # records decoded together: bounds the temporary arrays
_DOT, _ZERO, _NINE, _TAB = ord("."), ord("0"), ord("9"), ord("\t")
_BAR, _SLASH = ord("|"), ord("/")
_SPLIT = re.compile(rb"[|/]")
_GT = re.compile(rb"^(\.|[0-9]+)([|/](\.|[0-9]+))*$")


# A call with the tab before it is 4 bytes, `\t a sep b`: as a little-endian uint32 the tab and
# the separator are bytes 0 and 2.
_CALL_MASK = np.uint32(0x00FF00FF)
_PHASED_CALL = np.uint32((_BAR << 16) | _TAB)
_UNPHASED_CALL = np.uint32((_SLASH << 16) | _TAB)


def simple_codes(
    buffer: bytes, count: int, n: int, luts: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Model allele codes of `count` GT-only lines of diploid one-digit calls, all at once.

    `buffer` holds each line's calls with the tab before each call (4 bytes a call); `luts` maps
    each line's VCF allele indices to model codes (None: all lines are exact biallelic matches).
    Returns (lines, n, 2) codes (0/1, -1 missing, -2 another allele), (lines, n) phased, which
    lines were well-formed (the others need `decode_general`), and whether any code can be -2.
    """
    words = np.frombuffer(buffer, dtype="<u4").reshape(count, n)
    shape = words & _CALL_MASK
    phased = shape == _PHASED_CALL
    valid = (phased | (shape == _UNPHASED_CALL)).all(axis=1)
    raw = np.frombuffer(buffer, dtype=np.uint8).reshape(count, n, 4)
    kind = (
        np.zeros(count, dtype=np.int8)
        if luts is None
        else np.fromiter((_lut_kind(lut) for lut in luts), dtype=np.int8, count=count)
    )
    if (kind < 2).all():
        # allele byte minus '0': digits 0..9, '.' -> -2 (as int8)
        v = (raw[..., 1::2] - np.uint8(_ZERO)).view(np.int8)
        flat = v.reshape(count, -1)
        # biallelic calls hold only '0', '1' and '.' (-2); the shape check pins every byte
        valid &= (flat.min(axis=1) >= -2) & (flat.max(axis=1) <= 1)
        np.maximum(v, -1, out=v)  # '.' is missing
        for row in np.nonzero(kind == 1)[0]:
            line = v[row]
            np.subtract(1, line, out=line, where=line >= 0)
        return v, phased, valid, False
    assert luts is not None
    tables = np.full((count, 256), -3, dtype=np.int8)
    tables[:, _DOT] = -1
    for row, lut in enumerate(luts):
        k = min(len(lut), 10)
        tables[row, _ZERO : _ZERO + k] = np.where(lut[:k] < 0, -2, lut[:k])
    index = raw[..., 1::2].astype(np.intp)
    index += (np.arange(count, dtype=np.intp) * 256)[:, None, None]
    codes = tables.ravel()[index]
    valid &= (codes > -3).reshape(count, -1).all(axis=1)
    return codes, phased, valid, True


def _lut_kind(lut: np.ndarray) -> int:
    """0: biallelic, model REF = VCF REF; 1: biallelic swapped; 2: anything else."""
    if len(lut) == 2:
        if lut[0] == 0 and lut[1] == 1:
            return 0
        if lut[0] == 1 and lut[1] == 0:
            return 1
    return 2


def _allele(text: bytes, label: str) -> int:
    if text == b".":
        return -1
    try:
        return int(text)
    except ValueError:
        raise InputError(
            f"record {label}: genotype allele {text.decode(errors='replace')!r} is not a number"
        ) from None


def one_digit_calls(calls: bytes, n: int) -> np.ndarray | None:
    """Decode GT-only calls of one-digit alleles, haploid (`1`, `.`) or diploid (`0|1`, `./.`)
    in any mix, all at once; None when any call is another shape (`decode_general` then
    decodes, or reports, it)."""
    raw = np.frombuffer(calls, dtype=np.uint8)
    tabs = np.flatnonzero(raw == _TAB)
    if len(tabs) != n - 1:
        return None
    starts = np.empty(n, dtype=np.intp)
    starts[0], starts[1:] = 0, tabs + 1
    lengths = np.append(tabs, len(raw)) - starts
    diploid = lengths == 3
    if not (diploid | (lengths == 1)).all():
        return None
    first = raw[starts]
    second = np.where(diploid, raw[np.minimum(starts + 2, len(raw) - 1)], _DOT)
    sep = np.where(diploid, raw[np.minimum(starts + 1, len(raw) - 1)], _BAR)
    alleles = np.stack([first, second], axis=1)
    digit = (alleles >= _ZERO) & (alleles <= _NINE)
    if not ((digit | (alleles == _DOT)).all() and ((sep == _BAR) | (sep == _SLASH)).all()):
        return None
    out = np.empty((n, 3), dtype=np.int16)
    out[:, :2] = np.where(digit, alleles.astype(np.int16) - _ZERO, -1)
    out[~diploid, 1] = -2  # a haploid call has no second allele
    out[:, 2] = sep == _BAR  # a haploid call counts as phased
    return out


def decode_general(fmt: bytes, calls: bytes, n: int, label: str) -> np.ndarray | None:
    """Decode any record's GT calls; None when the record has no GT field."""
    if fmt == b"GT":
        fast = one_digit_calls(calls, n)
        if fast is not None:
            return fast
    keys = fmt.split(b":")
    if b"GT" not in keys:
        return None
    gi = keys.index(b"GT")
    fields = calls.split(b"\t")
    if len(fields) != n:
        raise InputError(
            f"record {label} has {len(fields)} sample columns; the header names {n} samples"
        )
    out = np.full((n, 3), -1, dtype=np.int16)
    out[:, 2] = 0
    for i, field in enumerate(fields):
        sub = field.split(b":")
        if len(sub) > len(keys):
            raise InputError(
                f"record {label}: sample column {i + 1} has {len(sub)} fields but FORMAT declares "
                f"{len(keys)} ({fmt.decode(errors='replace')})"
            )
        gt = sub[gi] if gi < len(sub) else b"."
        if not _GT.match(gt):
            raise InputError(
                f"record {label}: genotype {gt.decode(errors='replace')!r} of sample column {i + 1} "
                "is malformed (expected e.g. 0/1, 1|0, ./., 1)"
            )
        parts = _SPLIT.split(gt)
        if len(parts) == 1:
            out[i] = (_allele(parts[0], label), -2, 1)
        elif len(parts) == 2:
            out[i] = (_allele(parts[0], label), _allele(parts[1], label), gt[len(parts[0])] == _BAR)
        else:
            raise InputError(
                f"record {label}: ploidy {len(parts)} is not supported; only haploid and diploid calls are"
            )
    return out


def read_text_header(path: Path) -> SourceHeader:
    """Sample IDs, contig names (from the index) and FORMAT IDs of a bgzipped VCF, via tabix."""
    listing = subprocess.Popen(  # runs while the header is read
        ["tabix", "-l", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    header = subprocess.run(["tabix", "-H", str(path)], capture_output=True)
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
    suffixes = (".vcf.gz", ".vcf.bgz")
    description = "a bgzipped, tabix-indexed VCF, GT genotypes and the `tabix` command"

    @classmethod
    def unusable(cls, path: Path, genotype_field: str) -> str | None:
        """Why the text reader cannot read `path` here, or None."""
        if genotype_field != "GT":
            return f"it decodes GT only, not {genotype_field}"
        if find_index(path) is None:
            return "the file has no index"
        if shutil.which("tabix") is None:
            return "the `tabix` command is not installed"
        return None

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
    with htslib_output(["tabix", str(path), region], path, region) as out:
        rest = b""
        size = FIRST_CHUNK_BYTES  # a small first block: decoding starts sooner
        while True:
            block = out.read(size)
            size = CHUNK_BYTES
            data = rest + block if rest else block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            rest = data[cut:]
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
        heads = [line[:-width] for line in lines]
        tabs = list(map(bytes.count, heads, repeat(b"\t")))
        if tabs.count(8) == len(lines):
            common: list[int] | range = range(len(lines))
            slow = []
        else:
            common = [k for k, t in enumerate(tabs) if t == 8]
            slow = [k for k, t in enumerate(tabs) if t != 8 and lines[k]]
        fields = b"\t".join([heads[k] for k in common]).split(b"\t")
        labels = list(zip(fields[0::9], fields[1::9], fields[3::9], fields[4::9]))
        js = list(map(exact.get, labels))
        fast: list[tuple[int, int, tuple]] = []  # (line, variant, label) of exact matches
        for k, j, label, fmt in zip(common, js, labels, fields[8::9]):
            if fmt == b"GT":
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
    sink,
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
        (js[i], EXACT_LUT, b"GT", memoryview(buffer)[i * width : (i + 1) * width], labels[i])
        for i in sink.fill_valid(js, codes, phased, valid)
    ]
    _decode_group(bad, sink, n_samples, order, all_samples)


def _candidates(path: Path, region: str, line: bytes, sink) -> list:
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
    pos = int(parts[1])
    if pos not in sink.by_pos:
        sink.skip()
        return []
    ref, alt = parts[3].decode(), parts[4].decode()
    alts = [] if alt == "." else alt.split(",")
    label = (parts[0].decode(), pos, ref, alt)
    calls = memoryview(line)[cut:]
    return [
        (j, lut, parts[8], calls, label)
        for j, _kind, lut in sink.candidates(pos, [ref.upper(), *(a.upper() for a in alts)], label)
    ]


def _decode_group(group: list, sink, n_samples: int, order: np.ndarray, all_samples: bool) -> None:
    """Decode one group of needed records and store their calls."""
    width = 4 * n_samples
    simple = [k for k, item in enumerate(group) if item[2] == b"GT" and len(item[3]) == width]
    # group index -> (j, codes, phased, haploid calls)
    rows: dict[int, tuple[int, np.ndarray, np.ndarray, int]] = {}
    may_have_other = False
    if simple:
        buffer = b"".join([group[k][3] for k in simple])
        codes, phased, valid, may_have_other = simple_codes(
            buffer, len(simple), n_samples, [group[k][1] for k in simple]
        )
        if not all_samples:
            codes, phased = codes[:, order], phased[:, order]
        if len(simple) == len(group) and valid.all():  # the common case: no copies
            sink.fill_codes([item[0] for item in group], codes, phased, may_have_other)
            return
        for r in np.nonzero(valid)[0]:
            rows[simple[r]] = (group[simple[r]][0], codes[r], phased[r], 0)
    for k, (j, lut, fmt, calls, label) in enumerate(group):
        if k in rows:
            continue
        g = decode_general(fmt, bytes(calls[1:]), n_samples, format_label(label))
        if g is None:
            sink.missing_field()
            continue
        c, ph, haploid = array_codes(g[order], lut)
        rows[k] = (j, c, ph, haploid)
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
