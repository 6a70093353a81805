"""Decoding the sample columns of VCF text records: GT calls, and dosage fields.

`simple_codes` decodes many GT-only records of one-digit diploid calls at once (every call with
the tab before it is then exactly four bytes); `decode_record` decodes one record of any FORMAT,
vectorised where every sample has every field (`vcf_fields`), else call by call. All give
cyvcf2's `genotype.array()` layout (allele indices, -1 missing, -2 for the absent second allele
of a haploid call, last column phased), so the tests can hold every reader equal.
"""

from __future__ import annotations

import re

import numpy as np

from ...errors import InputError
from .vcf_fields import (
    field_bounds,
    fixed_gt,
    fixed_layout,
    fixed_values,
    gt_calls,
    value_lists,
)

_DOT, _ZERO, _NINE, _TAB, _COLON = ord("."), ord("0"), ord("9"), ord("\t"), ord(":")
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


def decode_record(
    fmt: bytes,
    calls: bytes | memoryview,
    n: int,
    label: str,
    field: str | None = None,
    count: int = 1,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One record's GT calls (None without a GT field) and, when `field` is given, its
    (samples, `count`) values (None without that field; NaN where missing or short)."""
    if fmt == b"GT" and field is None:
        fast = one_digit_calls(calls, n)
        if fast is not None:
            return fast, None
    keys = fmt.split(b":")
    raw = np.frombuffer(calls, dtype=np.uint8)
    if field is None and keys[0] == b"GT":
        fast = leading_gt_calls(raw, n)
        if fast is not None:
            return fast, None
    want = field.encode() if field else None
    fixed = fixed_layout(raw, n, len(keys))
    if fixed is not None:
        g = fixed_gt(fixed, keys.index(b"GT")) if b"GT" in keys else None
        values = fixed_values(fixed, keys.index(want), count) if want in keys else None
        if (g is not None or b"GT" not in keys) and (values is not None or want not in keys):
            return g, values
    g = values = None
    bounds = field_bounds(raw, n, len(keys))
    if bounds is not None:
        starts, ends = bounds
        if b"GT" in keys:
            k = keys.index(b"GT")
            g = gt_calls(raw, starts[:, k], ends[:, k])
        if want in keys:
            k = keys.index(want)
            values = value_lists(raw, starts[:, k], ends[:, k], count)
    need_gt = g is None and b"GT" in keys
    need_values = values is None and want in keys
    if need_gt or need_values:
        slow_g, slow_values = _per_call(keys, bytes(calls), n, label, want, count)
        g = slow_g if need_gt else g
        values = slow_values if need_values else values
    return g, values


def leading_gt_calls(raw: np.ndarray, n: int) -> np.ndarray | None:
    """GT calls of a record whose FORMAT starts with GT and whose calls are one-digit diploid
    (`0|1:...`), read from the tabs alone; None for any other shape."""
    tabs = np.flatnonzero(raw == _TAB)
    if len(tabs) != n - 1 or len(raw) < 4:
        return None
    starts = np.empty(n, dtype=np.int64)
    starts[0], starts[1:] = 0, tabs + 1
    if not (raw[np.minimum(starts + 3, len(raw) - 1)] == _COLON).all():
        return None
    return gt_calls(raw, starts, starts + 3)


def decode_general(fmt: bytes, calls: bytes, n: int, label: str) -> np.ndarray | None:
    """Decode any record's GT calls; None when the record has no GT field."""
    return decode_record(fmt, calls, n, label)[0]


def _per_call(
    keys: list[bytes], calls: bytes, n: int, label: str, want: bytes | None, count: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """`decode_record` a call at a time: any layout, and one clear error for a malformed one."""
    fields = bytes(calls).split(b"\t")
    if len(fields) != n:
        raise InputError(
            f"record {label} has {len(fields)} sample columns; the header names {n} samples"
        )
    gi = keys.index(b"GT") if b"GT" in keys else None
    vi = keys.index(want) if want in keys else None
    out = np.full((n, 3), -1, dtype=np.int16) if gi is not None else None
    values = np.full((n, count), np.nan) if vi is not None else None
    given = False
    for i, column in enumerate(fields):
        sub = column.split(b":")
        if len(sub) > len(keys):
            raise InputError(
                f"record {label}: sample column {i + 1} has {len(sub)} fields but FORMAT declares "
                f"{len(keys)} ({b':'.join(keys).decode(errors='replace')})"
            )
        if out is not None:
            out[i] = _call(sub[gi] if gi < len(sub) else b".", label, i)
        if values is not None and vi < len(sub):
            values[i] = _numbers(sub[vi], count, label, i)
            given = True
    # as htslib: a field no sample column carries (all dropped as trailing) is absent
    return out, values if given else None


def _call(gt: bytes, label: str, i: int) -> tuple[int, int, int]:
    """One GT text as (allele, allele or -2, phased)."""
    if not _GT.match(gt):
        raise InputError(
            f"record {label}: genotype {gt.decode(errors='replace')!r} of sample column {i + 1} "
            "is malformed (expected e.g. 0/1, 1|0, ./., 1)"
        )
    parts = _SPLIT.split(gt)
    if len(parts) == 1:
        return _allele(parts[0], label), -2, 1
    if len(parts) == 2:
        return _allele(parts[0], label), _allele(parts[1], label), gt[len(parts[0])] == _BAR
    raise InputError(
        f"record {label}: ploidy {len(parts)} is not supported; only haploid and diploid calls are"
    )


def _numbers(text: bytes, count: int, label: str, i: int) -> np.ndarray:
    """Up to `count` comma-separated numbers (NaN for `.` and for values not given)."""
    out = np.full(count, np.nan)
    for k, part in enumerate(text.split(b",")[:count]):
        if part == b".":
            continue
        try:
            out[k] = float(part)
        except ValueError:
            raise InputError(
                f"record {label}: value {part.decode(errors='replace')!r} of sample column "
                f"{i + 1} is not a number"
            ) from None
    return out
