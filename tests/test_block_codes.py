"""Block conversion to model codes against the aligner's rules written out a call at a time."""

from __future__ import annotations

import numpy as np
import pytest

from vcf2embed.genotypes.block_codes import counts_to_pairs, finish_pairs


def expected_call(a0: int, a1: int, flip: bool, haploid: bool) -> tuple[tuple[int, int], str, bool]:
    """One call by the README's table: (codes, QC kind, phased by haploidy)."""
    if haploid and a1 == -2 and a0 >= 0:
        code = a0 ^ 1 if flip else a0
        return (code, code), "haploid", True
    if a0 < 0 and a1 < 0:
        return (-1, -1), "missing", False
    if a0 < 0 or a1 < 0:
        return (-1, -1), "half", False
    return ((a0 ^ 1, a1 ^ 1) if flip else (a0, a1)), "called", False


@pytest.mark.parametrize("negatives", ["many", "one", "none"])
@pytest.mark.parametrize("haploid", [True, False])
def test_finish_pairs_follows_the_rules_call_by_call(haploid: bool, negatives: str) -> None:
    rng = np.random.default_rng(7)
    codes = rng.choice(
        np.array([0, 1, -1, -2], dtype=np.int8), size=(9, 301, 2), p=[0.5, 0.4, 0.05, 0.05]
    )
    codes[2, :, 1] = -2  # a haploid record (chrX in males)
    if negatives != "many":  # a block of clean calls, or one with a single call missing
        codes = np.abs(codes) % 2
        if negatives == "one":
            codes[7, 123, 1] = -1
    phased = rng.random((9, 301)) < 0.5
    flip = np.array([k % 3 == 0 for k in range(9)])
    got, got_phased = codes.copy(), phased.copy()
    counts = finish_pairs(got, got_phased, flip, haploid)
    for r in range(9):
        kinds = {"missing": 0, "half": 0, "haploid": 0, "called": 0}
        for s in range(301):
            pair, kind, now_phased = expected_call(
                int(codes[r, s, 0]), int(codes[r, s, 1]), bool(flip[r]), haploid
            )
            assert tuple(got[r, s]) == pair, (r, s, codes[r, s])
            assert got_phased[r, s] == (phased[r, s] or now_phased)
            kinds[kind] += 1
        assert list(counts[r]) == [kinds["missing"], kinds["half"], 0, kinds["haploid"]]
    if negatives == "many":
        assert counts[2, 3] > 0 if haploid else counts[:, 3].sum() == 0
    else:
        assert counts.sum() == (negatives == "one") and counts[7, 1] == (negatives == "one")


def test_counts_to_pairs_gives_unphased_pairs() -> None:
    counts = np.array([[0, 1, 2, -9], [2, -9, 0, 1]], dtype=np.int8)
    pairs = np.empty((2, 4, 2), dtype=np.int8)
    counts_to_pairs(counts, pairs)
    table = {0: (0, 0), 1: (0, 1), 2: (1, 1)}
    for r in range(2):
        for s in range(4):
            if counts[r, s] < 0:  # missing: both alleles negative, as `finish_pairs` takes it
                assert (pairs[r, s] < 0).all()
            else:
                assert tuple(pairs[r, s]) == table[int(counts[r, s])]


def test_without_half_calls_the_same_codes_and_counts() -> None:
    """A source with no half-missing calls (PLINK) may skip that pass: same result."""
    rng = np.random.default_rng(3)
    codes = rng.choice(np.array([0, 1], dtype=np.int8), size=(6, 200, 2))
    codes[rng.random((6, 200)) < 0.1] = -1
    flip = np.array([True, False] * 3)
    a, b = codes.copy(), codes.copy()
    pa, pb = np.zeros((6, 200), bool), np.zeros((6, 200), bool)
    counts_a = finish_pairs(a, pa, flip, False, half_calls=True)
    counts_b = finish_pairs(b, pb, flip, False, half_calls=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(counts_a, counts_b)
    assert counts_a[:, 0].sum() > 0
