"""Vectorised decoding of one VCF record's sample columns with any FORMAT (`GT:DS:GP`, ...).

The whole record is split at once: the positions of every `:` and tab give each sample's field
boundaries, provided every sample has every field (otherwise the caller's per-call parser takes
the record). GT fields of one-digit alleles (`0|1`, `./.`, `1`) and decimal fields (`0.123`,
`2`, `.`; comma-separated lists such as GP) are then decoded with numpy, so an imputed record
costs a few passes over its bytes, not a Python step per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TAB, _COLON, _COMMA, _DOT, _ZERO, _NINE = 9, 58, 44, 46, 48, 57
_BAR = ord("|")
_MAX_DECIMAL = 17  # longer number texts go to the per-call parser (an int64 mantissa)


def field_bounds(raw: np.ndarray, n: int, n_keys: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(starts, ends), each (samples, keys), of every sample's fields; None unless every sample
    has exactly `n_keys` fields."""
    return _fixed_bounds(raw, n, n_keys) or _any_bounds(raw, n, n_keys)


def _fixed_bounds(raw: np.ndarray, n: int, n_keys: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`field_bounds` of a record whose sample columns all have one length and one layout (one
    writer's fixed format, e.g. `0|1:0.998:0.001,0.998,0.001`), from the tabs alone; None
    otherwise."""
    stride = (len(raw) + 1) // n
    if n < 2 or stride * n != len(raw) + 1:
        return None
    grid = np.lib.stride_tricks.as_strided(raw, shape=(n, stride - 1), strides=(stride, 1))
    if not (raw[stride - 1 :: stride] == _TAB).all():
        return None
    colons = np.flatnonzero(grid[0] == _COLON)
    if len(colons) != n_keys - 1 or not (grid[:, colons] == _COLON).all():
        return None
    first = np.arange(n, dtype=np.int64)[:, None] * stride
    starts = first + np.concatenate([[0], colons + 1])
    ends = first + np.concatenate([colons, [stride - 1]])
    return starts, ends


def _any_bounds(raw: np.ndarray, n: int, n_keys: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`field_bounds` from every separator's position."""
    seps = np.flatnonzero((raw == _TAB) | (raw == _COLON))
    if len(seps) != n * n_keys - 1:
        return None
    ends = np.append(seps, len(raw)).reshape(n, n_keys)
    kinds = raw[ends[:, :-1]]
    if not (kinds == _COLON).all() or not (raw[ends[:-1, -1]] == _TAB).all():
        return None
    starts = np.empty_like(ends)
    starts[0, 0] = 0
    starts.reshape(-1)[1:] = ends.reshape(-1)[:-1] + 1
    return starts, ends


def gt_calls(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """GT fields of one-digit alleles, diploid or haploid in any mix, in cyvcf2's layout
    ((samples, 3) int16: alleles, -1 missing, -2 absent; phased); None for any other shape."""
    lengths = ends - starts
    diploid = lengths == 3
    if not (diploid | (lengths == 1)).all():
        return None
    last = len(raw) - 1
    first = raw[starts]
    second = np.where(diploid, raw[np.minimum(starts + 2, last)], _DOT)
    sep = np.where(diploid, raw[np.minimum(starts + 1, last)], _BAR)
    alleles = np.stack([first, second], axis=1)
    digit = (alleles >= _ZERO) & (alleles <= _NINE)
    if not ((digit | (alleles == _DOT)).all() and ((sep == _BAR) | (sep == ord("/"))).all()):
        return None
    out = np.empty((len(starts), 3), dtype=np.int16)
    out[:, :2] = np.where(digit, alleles.astype(np.int16) - _ZERO, -1)
    out[~diploid, 1] = -2
    out[:, 2] = sep == _BAR
    return out


def decimals(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Plain decimal numbers (`2`, `0.125`, `.` missing -> NaN) between `starts` and `ends`;
    None when any is another form (a sign, an exponent, a long text).

    Digits are read a column at a time into an integer mantissa, which is then divided by the
    power of ten of its decimals: one correctly rounded division, as `float()` gives.
    """
    lengths = ends - starts
    if not len(lengths):
        return np.zeros(0)
    width = int(lengths.max())
    if width > _MAX_DECIMAL or lengths.min() < 1:
        return None
    last = len(raw) - 1
    mantissa = np.zeros(len(starts), dtype=np.int64)
    point = lengths.copy()  # index of the dot, or the length when there is none
    bad = np.zeros(len(starts), dtype=bool)
    for k in range(width):
        inside = k < lengths
        c = raw[np.minimum(starts + k, last)]
        digit = (c >= _ZERO) & (c <= _NINE) & inside
        dot = (c == _DOT) & inside
        bad |= inside & ~digit & ~dot
        bad |= dot & (point < lengths)  # a second dot
        point = np.where(dot, k, point)
        mantissa = np.where(digit, mantissa * 10 + (c.astype(np.int64) - _ZERO), mantissa)
    missing = (lengths == 1) & (point == 0)
    if bad.any() or ((lengths == 1) & (point == 0) & ~missing).any():
        return None
    decimals_ = np.where(point < lengths, lengths - point - 1, 0)
    values = mantissa / 10.0**decimals_
    values[missing] = np.nan
    return values


def _column_block(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """The fields as a (samples, width) view when all have one width and equal spacing."""
    n, width = len(starts), int(ends[0] - starts[0])
    if n == 0 or not (ends - starts == width).all():
        return None
    stride = int(starts[1] - starts[0]) if n > 1 else width
    if n > 1 and not (np.diff(starts) == stride).all():
        return None
    if int(starts[-1]) + width > len(raw) or stride < width:
        return None
    return np.lib.stride_tricks.as_strided(
        raw[int(starts[0]) :], shape=(n, width), strides=(stride, 1), writeable=False
    )


def fixed_width_values(
    raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, count: int
) -> np.ndarray | None:
    """`value_lists` for fields written with one format (`%.3f`: `0.999,0.001,0.000`), each
    number then at the same columns in every sample: a matrix product of the digit columns.
    None when the fields are not all alike."""
    block = _column_block(raw, starts, ends)
    if block is None:
        return None
    first = block[0]
    cuts = [-1, *np.flatnonzero(first == _COMMA).tolist(), len(first)]
    if len(cuts) != count + 1 or not (block[:, cuts[1:-1]] == _COMMA).all():
        return None
    values = np.empty((len(block), count))
    for t in range(count):
        token = block[:, cuts[t] + 1 : cuts[t + 1]]
        row = token[0]
        dots = np.flatnonzero(row == _DOT)
        digits = np.flatnonzero((row >= _ZERO) & (row <= _NINE))
        if len(dots) > 1 or len(digits) + len(dots) != len(row) or not len(digits):
            return None
        if len(dots) and not (token[:, dots[0]] == _DOT).all():
            return None
        cols = token[:, digits] - np.uint8(_ZERO)  # digits 0-9; any other byte wraps above 9
        if not (cols <= 9).all():
            return None
        fraction = int((digits > dots[0]).sum()) if len(dots) else 0
        powers = 10.0 ** np.arange(len(digits) - 1, -1, -1)
        mantissa = cols.astype(np.float64) @ powers  # an integer, exact below 2**53
        values[:, t] = mantissa / 10.0**fraction  # one rounding, as float() does
    return values


def value_lists(
    raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, count: int
) -> np.ndarray | None:
    """(samples, count) numbers of comma-separated fields (a lone `.` is all missing); None when
    a field holds another number of values or another form."""
    fixed = fixed_width_values(raw, starts, ends, count)
    if fixed is not None:
        return fixed
    n = len(starts)
    commas = np.flatnonzero(raw == _COMMA)
    owner = np.searchsorted(starts, commas, side="right") - 1
    inside = (owner >= 0) & (commas < ends[np.maximum(owner, 0)])
    commas, owner = commas[inside], owner[inside]
    per_field = np.bincount(owner, minlength=n)
    lone_dot = (ends - starts == 1) & (raw[starts] == _DOT)
    if not ((per_field == count - 1) | ((per_field == 0) & lone_dot)).all():
        return None
    full = per_field == count - 1
    bounds = np.empty((n, count + 1), dtype=np.int64)
    bounds[:, 0], bounds[:, -1] = starts - 1, ends
    if count > 1 and full.any():
        bounds[full, 1:-1] = commas.reshape(-1, count - 1)
    values = np.full((n, count), np.nan)
    if full.any():
        b = bounds[full]
        parsed = decimals(raw, (b[:, :-1] + 1).ravel(), b[:, 1:].ravel())
        if parsed is None:
            return None
        values[full] = parsed.reshape(-1, count)
    return values


@dataclass
class FixedLayout:
    """A record whose sample columns all have one length and one layout (one writer's fixed
    format, e.g. `0|1:0.998:0.001,0.998,0.001`): a (samples, width) view and each field's
    columns, found from the first sample and checked against all."""

    grid: np.ndarray
    spans: list[tuple[int, int]]


def fixed_layout(raw: np.ndarray, n: int, n_keys: int) -> FixedLayout | None:
    """The record as a `FixedLayout`, or None when its samples differ in length or layout."""
    stride = (len(raw) + 1) // n
    if n < 2 or stride * n != len(raw) + 1:
        return None
    if not (raw[stride - 1 :: stride] == _TAB).all():
        return None
    grid = np.lib.stride_tricks.as_strided(raw, shape=(n, stride - 1), strides=(stride, 1))
    colons = np.flatnonzero(grid[0] == _COLON)
    if len(colons) != n_keys - 1:
        return None
    for c in colons.tolist():
        if not (grid[:, c] == _COLON).all():
            return None
    edges = [-1, *colons.tolist(), stride - 1]
    return FixedLayout(grid, [(a + 1, b) for a, b in zip(edges[:-1], edges[1:])])


def fixed_gt(layout: FixedLayout, key: int) -> np.ndarray | None:
    """`gt_calls` of field `key` of a fixed-layout record, read from its columns."""
    start, end = layout.spans[key]
    grid = layout.grid
    n = len(grid)
    out = np.empty((n, 3), dtype=np.int16)
    if end - start == 1:
        first = grid[:, start]
        digit = (first >= _ZERO) & (first <= _NINE)
        if not (digit | (first == _DOT)).all():
            return None
        out[:, 0] = np.where(digit, first.astype(np.int16) - _ZERO, -1)
        out[:, 1], out[:, 2] = -2, 1
        return out
    if end - start != 3:
        return None
    sep = grid[:, start + 1]
    phased = sep == _BAR
    if not (phased | (sep == ord("/"))).all():
        return None
    for k, column in enumerate((start, start + 2)):
        allele = grid[:, column]
        digit = (allele >= _ZERO) & (allele <= _NINE)
        if not (digit | (allele == _DOT)).all():
            return None
        out[:, k] = np.where(digit, allele.astype(np.int16) - _ZERO, -1)
    out[:, 2] = phased
    return out


def fixed_values(layout: FixedLayout, key: int, count: int) -> np.ndarray | None:
    """`value_lists` of field `key` of a fixed-layout record: every number at the same columns,
    its digits read column by column into an integer mantissa."""
    start, end = layout.spans[key]
    block = layout.grid[:, start:end]
    row = block[0]
    cuts = [-1, *np.flatnonzero(row == _COMMA).tolist(), len(row)]
    if len(cuts) != count + 1:
        return None
    for c in cuts[1:-1]:
        if not (block[:, c] == _COMMA).all():
            return None
    values = np.empty((len(block), count))
    for t in range(count):
        number = _fixed_number(block, cuts[t] + 1, cuts[t + 1])
        if number is None:
            return None
        values[:, t] = number
    return values


def _fixed_number(block: np.ndarray, a: int, b: int) -> np.ndarray | None:
    """The numbers written at columns [a, b) of every row (`0.125`, `2`), or None."""
    token = block[0, a:b]
    dots = np.flatnonzero(token == _DOT)
    digits = np.flatnonzero((token >= _ZERO) & (token <= _NINE))
    if len(dots) > 1 or len(digits) + len(dots) != len(token) or not len(digits):
        return None
    if len(dots) and not (block[:, a + dots[0]] == _DOT).all():
        return None
    mantissa = np.zeros(len(block), dtype=np.int64)
    for c in digits.tolist():
        d = block[:, a + c] - np.uint8(_ZERO)  # a digit 0-9; any other byte wraps above 9
        if not (d <= 9).all():
            return None
        mantissa *= 10
        mantissa += d
    fraction = int((digits > dots[0]).sum()) if len(dots) else 0
    return mantissa / 10.0**fraction  # one rounding, as float() does
