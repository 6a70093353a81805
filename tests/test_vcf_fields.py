"""Vectorised VCF field decoding. Oracle: Python's own `float()` and `bytes.split`, a call at a
time, on the same bytes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vcf2embed.genotypes.sources import vcf_fields
from vcf2embed.genotypes.sources.vcf_text_decode import _per_call, decode_record

NUMBER = st.one_of(
    st.integers(0, 2000).map(lambda v: f"{v / 1000:.3f}"),
    st.integers(0, 2000).map(lambda v: f"{v / 1000:g}"),
    st.sampled_from([".", "0", "2", "1.5", "0.0001", "12345678.25", "1e-3", "-0.5", "5."]),
)


@st.composite
def records(draw):
    n = draw(st.integers(1, 8))
    fixed = draw(st.booleans())
    cells = []
    for _ in range(n):
        gt = "0|1" if fixed else draw(st.sampled_from(["0|1", "1/1", "./.", "1", "."]))
        ds = "0.125" if fixed else draw(NUMBER)
        gp = (
            ",".join(f"{draw(st.integers(0, 999)) / 1000:.3f}" for _ in range(3))
            if fixed
            else ",".join(draw(NUMBER) for _ in range(draw(st.sampled_from([3, 3, 2]))))
        )
        cells.append(f"{gt}:{ds}:{gp}")
    return n, "\t".join(cells).encode()


@settings(max_examples=200, deadline=None)
@given(records())
def test_vectorised_record_equals_the_per_call_parser(data) -> None:
    n, calls = data
    keys = [b"GT", b"DS", b"GP"]
    for field, count in (("DS", 1), ("GP", 3)):
        g, values = decode_record(b"GT:DS:GP", calls, n, "1:1 A>G", field, count)
        slow_g, slow_values = _per_call(keys, calls, n, "1:1 A>G", field.encode(), count)
        np.testing.assert_array_equal(g, slow_g)
        np.testing.assert_array_equal(values, slow_values)


@settings(max_examples=200, deadline=None)
@given(st.lists(NUMBER, min_size=1, max_size=30))
def test_decimals_equal_float(texts) -> None:
    raw = np.frombuffer("\t".join(texts).encode(), dtype=np.uint8)
    lengths = np.array([len(t) for t in texts])
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    got = vcf_fields.decimals(raw, starts, starts + lengths)
    plain = all(t == "." or t.replace(".", "", 1).isdigit() for t in texts)
    if not plain:
        assert got is None  # signs and exponents go to the per-call parser
        return
    assert got is not None
    expected = [np.nan if t == "." else float(t) for t in texts]
    np.testing.assert_array_equal(got, expected)  # bit for bit, as float() rounds


def test_fixed_layout_bounds_equal_the_separator_scan() -> None:
    calls = b"0|1:0.125:0.100,0.800,0.100\t1|1:1.875:0.000,0.125,0.875"
    raw = np.frombuffer(calls, dtype=np.uint8)
    fixed = vcf_fields._fixed_bounds(raw, 2, 3)
    scanned = vcf_fields._any_bounds(raw, 2, 3)
    assert fixed is not None and scanned is not None
    for a, b in zip(fixed, scanned):
        np.testing.assert_array_equal(a, b)
    assert vcf_fields._fixed_bounds(raw, 2, 2) is None  # another FORMAT: not this layout
