"""A reader of BCF's binary records, for indexed BCF files.

htslib (`bcftools view -Ou`) decompresses and cuts the region; the uncompressed BCF records are
then walked here. In the common record (two alleles, FORMAT GT only, int8 diploid calls) the
model's variant is recognised from the raw bytes of POS and the alleles, and the calls of many
such records are decoded at once with a table of every possible two-byte call. Any other record
is decoded field by field. Both give the layout of cyvcf2's `genotype.array()`, so alignment is
shared with the other readers, and the tests hold all readers equal.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...progress import track
from ..paths import check_indexed
from ..records import EXACT_LUT, RecordSink, SourceHeader, all_in_order, array_codes, format_label
from .base import Source
from .htslib import CHUNK_BYTES, htslib_output, htslib_problem, run_tool, tool_reader_unusable

_MAGIC = b"BCF\x02"
# l_shared, l_indiv, CHROM, POS, rlen, QUAL, n_info, n_allele, n_sample | n_fmt << 24
_RECORD = struct.Struct("<IIiiifHHI")
_TYPE_SIZE = {0: 0, 1: 1, 2: 2, 3: 4, 5: 4, 7: 1}
_INT_DTYPE = {1: np.int8, 2: np.dtype("<i2"), 3: np.dtype("<i4")}
_VECTOR_END = {1: -127, 2: -32767, 3: -2147483647}
_DECODE_RECORDS = 512  # common records decoded together
_SENTINEL = 0x7F7F  # table value of a two-byte call the common decoder does not take


def _call_table() -> np.ndarray:
    """int16 model codes (two int8) of every two-byte diploid GT value of an exact biallelic
    record, `_SENTINEL` for values it cannot hold (other alleles, haploid, ploidy markers)."""
    table = np.full(1 << 16, _SENTINEL, dtype=np.int16)
    for first in range(6):  # (allele + 1) << 1 | phase bit; 0 and 1 are missing
        for second in range(6):
            a, b = (first >> 1) - 1, (second >> 1) - 1
            pair = np.array([a, b], dtype=np.int8).view(np.int16)[0]
            table[np.array([first, second], dtype=np.uint8).view(np.uint16)[0]] = pair
    return table


_CALLS = _call_table()


def parse_header(
    text: str, path: Path
) -> tuple[list[str], dict[int, str], set[str], dict[str, int]]:
    """Samples, contigs by BCF index, FORMAT IDs and the string dictionary of a BCF header."""
    strings: dict[str, int] = {"PASS": 0}
    contigs: dict[int, str] = {}
    formats: set[str] = set()
    samples: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(("##FILTER=<", "##INFO=<", "##FORMAT=<", "##contig=<")):
            match = re.search(r"[<,]ID=([^,>]+)", line)
            if not match:
                continue
            name = match.group(1)
            idx = re.search(r"[<,]IDX=(\d+)", line)
            if line.startswith("##contig"):
                contigs[int(idx.group(1)) if idx else len(contigs)] = name
                continue
            if line.startswith("##FORMAT"):
                formats.add(name)
            if idx:
                strings[name] = int(idx.group(1))
            elif name not in strings:
                strings[name] = max(strings.values()) + 1
        elif line.startswith("#CHROM"):
            samples = line.rstrip("\n").split("\t")[9:]
    if samples is None:
        raise InputError(f"{path}: cannot be read as BCF (no #CHROM header line)")
    return samples, contigs, formats, strings


def read_bcf_header(path: Path) -> SourceHeader:
    """Sample IDs, contig names and FORMAT IDs of a BCF file, via bcftools."""
    proc = run_tool("bcftools", "view", "-h", "--no-version", str(path))
    if proc.returncode != 0:
        raise InputError(htslib_problem(path, proc.stderr.decode(errors="replace")))
    samples, contigs, formats, _ = parse_header(proc.stdout.decode(errors="replace"), path)
    return SourceHeader(samples, [contigs[i] for i in sorted(contigs)], frozenset(formats))


class BcfSource(Source):
    """An indexed BCF file whose binary records are walked with numpy."""

    reader = "bcf"
    suffixes = (".bcf",)
    description = "an indexed BCF file, GT genotypes and the `bcftools` command or pysam"

    @classmethod
    def unusable(cls, path: Path, genotype_field: str) -> str | None:
        """Why the BCF reader cannot read `path` here, or None."""
        if genotype_field != "GT":
            return f"it decodes GT only, not {genotype_field}"
        return tool_reader_unusable(path, "bcftools")

    @classmethod
    def check_file(cls, path: Path) -> None:
        """Raise unless `path` exists with a current index."""
        check_indexed(path)

    def read_header(self) -> SourceHeader:
        """The header, through `bcftools view -h`."""
        return read_bcf_header(self.path)

    def read_region(self, region: str, sink: RecordSink, desc: str) -> None:
        """Align every record of `region`."""
        read_bcf_region(self.path, region, len(self.header.samples), sink, desc)


def _typed_int(data: bytes, off: int) -> tuple[int, int]:
    """A typed integer (descriptor byte, then the value) at `off`; returns (value, next offset)."""
    kind = data[off] & 0x0F
    size = _TYPE_SIZE[kind]
    return int.from_bytes(data[off + 1 : off + 1 + size], "little", signed=True), off + 1 + size


def _typed_length(data: bytes, off: int) -> tuple[int, int, int]:
    """(type, count, offset of the values) of the typed vector whose descriptor is at `off`."""
    desc = data[off]
    kind, count = desc & 0x0F, desc >> 4
    off += 1
    if count == 15:
        count, off = _typed_int(data, off)
    return kind, count, off


def _alleles(data: bytes, off: int, n_allele: int) -> list[str]:
    """The alleles (typed strings) that follow the ID at `off`."""
    _, count, off = _typed_length(data, off)
    off += count  # the ID
    out = []
    for _ in range(n_allele):
        _, count, off = _typed_length(data, off)
        out.append(data[off : off + count].decode(errors="replace"))
        off += count
    return out


def _gt_calls(
    data: bytes, off: int, n_fmt: int, n: int, gt_key: int, label: str
) -> np.ndarray | None:
    """A record's GT in cyvcf2's `genotype.array()` layout; None when it has no GT field."""
    for _ in range(n_fmt):
        key, off = _typed_int(data, off)
        kind, count, off = _typed_length(data, off)
        size = _TYPE_SIZE.get(kind)
        if size is None:
            raise InputError(f"record {label}: FORMAT field of unknown BCF type {kind}")
        if key != gt_key:
            off += n * count * size
            continue
        if kind not in _INT_DTYPE or count < 1:
            raise InputError(f"record {label}: GT is not stored as integers")
        if count > 2:
            raise InputError(
                f"record {label}: ploidy {count} is not supported; only haploid and diploid calls are"
            )
        raw = np.frombuffer(data, dtype=_INT_DTYPE[kind], count=n * count, offset=off)
        return _array_layout(raw.reshape(n, count), kind)
    return None


def _array_layout(raw: np.ndarray, kind: int) -> np.ndarray:
    """(samples, ploidy) BCF GT values of integer type `kind` in cyvcf2's `genotype.array()`
    layout: allele indices (-1 missing, -2 absent), then the phased flag."""
    values = raw.astype(np.int32)
    allele = (values >> 1) - 1
    allele[allele < -1] = -1  # bcf missing values
    allele[values == _VECTOR_END[kind]] = -2  # absent allele of a shorter call
    out = np.zeros((len(raw), raw.shape[1] + 1), dtype=np.int16)
    out[:, :-1] = allele
    out[:, -1] = (values[:, -1] & 1) if raw.shape[1] > 1 else 1
    return out


def _records(path: Path, region: str):
    """Yield (header text, None) once, then (data, record offsets) for blocks of whole records."""
    args = ["view", "-Ou", "--no-version", "-r", region, str(path)]
    with htslib_output("bcftools", args, path, region) as out:
        head = out.read(9)
        if len(head) < 9 or head[:4] != _MAGIC:
            out.read()  # let bcftools finish, so that its own error is the one reported
            return
        (l_text,) = struct.unpack("<I", head[5:9])
        yield out.read(l_text).rstrip(b"\0").decode(errors="replace"), None
        rest = b""
        while True:
            block = out.read(CHUNK_BYTES)
            data = rest + block if rest else block
            offsets, off, size = [], 0, len(data)
            while off + 8 <= size:
                l_shared, l_indiv = struct.unpack_from("<II", data, off)
                end = off + 8 + l_shared + l_indiv
                if end > size:
                    break
                offsets.append(off)
                off = end
            rest = data[off:]
            if offsets:
                yield data, offsets
            if not block:
                if rest:
                    raise InputError(f"{path}: truncated BCF record in {region}")
                break


def read_bcf_region(path: Path, region: str, n_samples: int, sink: RecordSink, desc: str) -> None:
    """Align every record of `region` (`contig:start-end`) of an indexed BCF file."""
    stream = _records(path, region)
    header = next(stream, None)
    if header is None:
        raise InputError(f"{path}: bcftools gave no BCF stream for {region}; check the file")
    _, contigs, _, strings = parse_header(header[0], path)
    gt_key = strings.get("GT")
    order = sink.order
    all_samples = all_in_order(order, n_samples)
    exact = _exact_keys(sink)
    prefix = bytes([0x11, gt_key, 0x21]) if gt_key is not None and gt_key < 128 else None
    l_common = 3 + 2 * n_samples
    by_pos, variants = sink.by_pos, sink.variants
    for data, offsets in track(stream, desc=desc, unit="chunks"):
        fast_js: list[int] = []
        fast_calls: list[bytes] = []
        for off in offsets:
            l_shared, l_indiv, chrom, pos0, _, _, _, n_allele, nsf = _RECORD.unpack_from(data, off)
            shared = off + 8
            indiv = shared + l_shared
            pos = pos0 + 1
            if pos not in by_pos:
                sink.skip()
                continue
            id_desc = data[shared + 24]
            if (
                n_allele == 2
                and nsf >> 24 == 1
                and l_indiv == l_common
                and id_desc < 0xF0
                and data[indiv : indiv + 3] == prefix
            ):
                first = shared + 25 + (id_desc >> 4)
                ref_len = data[first] >> 4
                alt_len = data[first + 1 + ref_len] >> 4
                j = exact.get((pos, data[first : first + 2 + ref_len + alt_len]))
                if j is not None and sink.claim_one(
                    j, (contigs.get(chrom), pos, variants.ref[j], variants.alt[j])
                ):
                    fast_js.append(j)
                    fast_calls.append(data[indiv + 3 : indiv + l_indiv])
                    continue
            alleles = _alleles(data, shared + 24, n_allele)
            ref, alt = alleles[0], ",".join(alleles[1:]) or "."
            label = (contigs.get(chrom, str(chrom)), pos, ref, alt)
            chosen = sink.candidates(pos, [a.upper() for a in alleles], label)
            if not chosen:
                continue
            g = _gt_calls(data, indiv, nsf >> 24, n_samples, gt_key, format_label(label))
            for j, _kind, lut in chosen:
                if g is None:
                    sink.missing_field()
                    continue
                codes, phased, haploid = array_codes(g[order], lut)
                sink.fill_codes(
                    [j], codes[None], phased[None], haploid=np.array([haploid], dtype=np.int64)
                )
        for first in range(0, len(fast_js), _DECODE_RECORDS):
            part = slice(first, first + _DECODE_RECORDS)
            _decode_common(fast_js[part], fast_calls[part], n_samples, sink, order, all_samples)


def _decode_common(
    js: list[int],
    calls: list[bytes],
    n_samples: int,
    sink,
    order: np.ndarray,
    all_samples: bool,
) -> None:
    """Decode and store claimed exact, GT-only int8 diploid records (calls the table does not
    hold, such as haploid ones, go one record at a time)."""
    pairs = np.frombuffer(b"".join(calls), dtype="<u2").reshape(len(js), n_samples)
    codes16 = np.take(_CALLS, pairs)
    phased = (pairs & 0x0100) != 0
    valid = codes16.max(axis=1) < _SENTINEL
    codes = codes16.view(np.int8).reshape(len(js), n_samples, 2)
    if not all_samples:
        codes, phased = codes[:, order], phased[:, order]
    for k in sink.fill_valid(js, codes, phased, valid):
        raw = np.frombuffer(calls[k], dtype=np.int8).reshape(n_samples, 2)
        c, ph, haploid = array_codes(_array_layout(raw, 1)[order], EXACT_LUT)
        sink.fill_codes([js[k]], c[None], ph[None], haploid=np.array([haploid], dtype=np.int64))


def _exact_keys(sink: RecordSink) -> dict[tuple[int, bytes], int]:
    """(POS, REF and ALT as BCF typed strings) of a record matching a variant exactly -> index."""
    items = list(sink.exact_alleles().items())
    single = [(pos, j) for (pos, _, _), j in items]
    refs = "\0".join(ref for (_, ref, _), _ in items).encode().split(b"\0")
    alts = "\0".join(alt for (_, _, alt), _ in items).encode().split(b"\0")
    return {
        (pos, bytes((len(r) << 4 | 7,)) + r + bytes((len(a) << 4 | 7,)) + a): j
        for (pos, j), r, a in zip(single, refs, alts)
        if len(r) < 15 and len(a) < 15
    }
