"""A vectorised reader of raw GT text, for bgzipped VCFs.

htslib (`tabix`) decompresses and cuts the region; only the records that supply a model variant
are decoded. The common case, a `GT`-only record whose calls are all diploid with one-digit allele
indices (`0|1`, `./.`), is decoded for many records at once with numpy: every call is then exactly
four bytes (`a`, separator, `b`, tab). Any other record (more FORMAT fields, haploid or
multi-digit calls) goes through a plain per-call parser. Both produce the layout of cyvcf2's
`genotype.array()` (allele indices, -1 missing, -2 for the absent second allele of a haploid
call, last column phased), so alignment is shared with the cyvcf2 reader, and the tests hold the
two readers equal.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .errors import InputError
from .progress import track

CHUNK_BYTES = 16 << 20
DECODE_LINES = 256  # records decoded together: bounds the temporary arrays
_DOT, _ZERO, _NINE, _TAB = ord("."), ord("0"), ord("9"), ord("\t")
_BAR, _SLASH = ord("|"), ord("/")
_SPLIT = re.compile(rb"[|/]")


def text_reader_available(path: Path) -> bool:
    """True for bgzipped VCFs with an index, when the `tabix` command is on PATH."""
    from .genotypes import find_index

    return (
        path.name.endswith((".vcf.gz", ".vcf.bgz"))
        and find_index(path) is not None
        and shutil.which("tabix") is not None
    )


def decode_simple(calls: list[bytes], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode GT-only lines of 4-byte diploid calls; return (records, n, 3) arrays and a validity mask."""
    raw = np.frombuffer(b"\t".join(calls) + b"\t", dtype=np.uint8).reshape(len(calls), n, 4)
    a, sep, b, tab = raw[..., 0], raw[..., 1], raw[..., 2], raw[..., 3]

    def allele_ok(x: np.ndarray) -> np.ndarray:
        return ((x >= _ZERO) & (x <= _NINE)) | (x == _DOT)

    valid = ((tab == _TAB) & ((sep == _BAR) | (sep == _SLASH)) & allele_ok(a) & allele_ok(b)).all(
        axis=1
    )
    out = np.empty((len(calls), n, 3), dtype=np.int16)
    out[..., 0] = np.where(a == _DOT, -1, a.astype(np.int16) - _ZERO)
    out[..., 1] = np.where(b == _DOT, -1, b.astype(np.int16) - _ZERO)
    out[..., 2] = sep == _BAR
    return out, valid


def _allele(text: bytes, label: str) -> int:
    if text == b".":
        return -1
    try:
        return int(text)
    except ValueError:
        raise InputError(
            f"record {label}: genotype allele {text.decode(errors='replace')!r} is not a number"
        ) from None


def decode_general(fmt: bytes, calls: bytes, n: int, label: str) -> np.ndarray | None:
    """Decode any record's GT calls one by one; None when the record has no GT field."""
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
        gt = sub[gi] if gi < len(sub) else b"."
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


def _lines(path: Path, region: str):
    """Yield lists of raw record lines of `region`, as htslib's tabix cuts them."""
    proc = subprocess.Popen(
        ["tabix", str(path), region], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    rest = b""
    try:
        while True:
            block = proc.stdout.read(CHUNK_BYTES)
            if not block:
                break
            block = rest + block
            cut = block.rfind(b"\n")
            if cut < 0:
                rest = block
                continue
            rest = block[cut + 1 :]
            yield block[:cut].split(b"\n")
        if rest.strip():
            yield [rest]
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        code = proc.wait()
    if code != 0:
        raise InputError(
            f"{path}: tabix could not read {region}: {err.splitlines()[-1] if err else code}"
        )


def read_text_region(path: Path, region: str, n_samples: int, aligner, desc: str) -> None:
    """Align every record of `region` of a bgzipped VCF, decoding GT text with numpy."""
    order = aligner.order
    width = 4 * n_samples - 1
    for lines in track(_lines(path, region), desc=desc, unit="chunks"):
        needed = []
        for line in lines:
            if not line:
                continue
            parts = line.split(b"\t", 9)
            if len(parts) < 10:
                raise InputError(
                    f"{path}: a record in {region} has {len(parts)} columns; a VCF with samples needs 10 or more"
                )
            ref, alt = parts[3].decode(), parts[4].decode()
            alts = [] if alt == "." else alt.split(",")
            label = f"{parts[0].decode()}:{int(parts[1])} {ref}>{alt}"
            chosen = aligner.candidates(
                int(parts[1]), [ref.upper(), *(a.upper() for a in alts)], label
            )
            if chosen:
                needed.append((parts[8], parts[9], label, chosen))
        if not needed:
            continue
        for first in range(0, len(needed), DECODE_LINES):
            group = needed[first : first + DECODE_LINES]
            simple = [
                k
                for k, (fmt, calls, _, _) in enumerate(group)
                if fmt == b"GT" and len(calls) == width
            ]
            decoded: dict[int, np.ndarray] = {}
            if simple:
                arrays, valid = decode_simple([group[k][1] for k in simple], n_samples)
                for row, k in enumerate(simple):
                    if valid[row]:
                        decoded[k] = arrays[row]
            for k, (fmt, calls, label, chosen) in enumerate(group):
                g = decoded[k] if k in decoded else decode_general(fmt, calls, n_samples, label)
                g = g[order] if g is not None else None
                for j, _kind, lut in chosen:
                    aligner.fill_calls(j, g, lut)
