"""Genotype encodings and reconstruction calls, against hand-written cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import encode_presence

from vcf2embed.encodings import allele_presence, alt_dosage, encode, phased_one_hot
from vcf2embed.errors import InputError
from vcf2embed.reconstruction import call_probabilities, called_dosage, concordance

# one sample per row; variants: 0/0, 0/1, 1/0, 1/1, missing
CALLS = np.array([[[0, 0], [0, 1], [1, 0], [1, 1], [-1, -1]]], dtype=np.int8)


def test_allele_presence_table() -> None:
    x = encode("allele_presence", CALLS)
    assert x.tolist() == [[1, 0, 1, 1, 1, 1, 0, 1, 0, 0]]
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 2, (20, 30, 2)).astype(np.int8)
    codes[(codes < 0).any(axis=2)] = -1
    np.testing.assert_array_equal(encode("allele_presence", codes), encode_presence(codes))


def test_phased_one_hot() -> None:
    x = phased_one_hot(CALLS)
    assert x[0, 4:8].tolist() == [1, 0, 0, 1]  # 0|1
    assert x[0, 8:12].tolist() == [0, 1, 1, 0]  # 1|0
    assert x[0, 16:20].tolist() == [0, 0, 0, 0]


def test_unphased_het_refused_for_phased_model() -> None:
    phased = np.array([[True, False, True, True, True]])
    with pytest.raises(InputError, match="1 heterozygous calls are unphased"):
        encode("phased", CALLS, phased, where="tile t")
    assert encode("phased", CALLS, phased, allow_unphased=True).shape == (1, 20)


def test_pair_tables_match_the_formulas_for_every_code() -> None:
    codes = np.array([-2, -1, 0, 1], dtype=np.int8)
    pairs = np.stack(np.meshgrid(codes, codes, indexing="ij"), axis=-1).reshape(1, -1, 2)
    a0, a1 = pairs[0, :, 0], pairs[0, :, 1]
    presence = np.stack([(a0 == 0) | (a1 == 0), (a0 == 1) | (a1 == 1)], axis=1)
    one_hot = np.stack([a0 == 0, a0 == 1, a1 == 0, a1 == 1], axis=1)
    assert allele_presence(pairs).tolist() == [presence.astype(np.float32).ravel().tolist()]
    assert phased_one_hot(pairs).tolist() == [one_hot.astype(np.float32).ravel().tolist()]
    backwards = presence[::-1].astype(np.float32).ravel().tolist()
    assert allele_presence(pairs[:, ::-1]).tolist() == [backwards]  # a non-contiguous view


def test_dosage_with_mean_imputation() -> None:
    calls = np.array([[[0, 1]], [[1, 1]], [[-1, -1]]], dtype=np.int8)
    assert alt_dosage(calls)[:, 0].tolist() == [1.0, 2.0, 1.5]
    ds = np.array([[0.2], [np.nan], [1.0]], dtype=np.float32)
    assert alt_dosage(calls, ds)[:, 0] == pytest.approx([0.2, 0.6, 1.0])


def test_reconstruction_calls_hand_computed() -> None:
    out = np.array([[0.9, 0.2, 0.8, 0.7, 0.1, 0.95]])
    p = call_probabilities(out)[0]
    assert p[0] == pytest.approx([0.9 * 0.8, 0.9 * 0.2, 0.1 * 0.2])
    assert p[1] == pytest.approx([0.8 * 0.3, 0.8 * 0.7, 0.2 * 0.7])
    assert called_dosage(out).tolist() == [[0, 1, 2]]
    obs = np.array([[[0, 0], [0, 0], [-1, -1]]], dtype=np.int8)
    assert concordance(obs, out) == pytest.approx(0.5)


def test_reconstruction_accumulator_against_float64_formulas() -> None:
    from vcf2embed.reconstruction import ReconstructionAccumulator

    rng = np.random.default_rng(3)
    alleles = rng.integers(0, 2, (50, 40, 2)).astype(np.int8)
    alleles[rng.random((50, 40)) < 0.1] = -1
    output = rng.random((50, 80)).astype(np.float32)
    inputs = torch.from_numpy(allele_presence(alleles))
    acc = ReconstructionAccumulator(50)
    acc.add(0, inputs[:20], torch.from_numpy(output[:20]))  # two batches, as embed feeds it
    acc.add(20, inputs[20:], torch.from_numpy(output[20:]))
    result = acc.result()
    p = call_probabilities(output)  # float64, stacked: the written-out formula
    calls = p.argmax(axis=-1)
    expected_dosage = (p[..., 1] + 2 * p[..., 2]) / p.sum(axis=-1)
    obs = np.where(alleles[..., 0] >= 0, alleles.sum(axis=-1), -1)
    mask = obs >= 0
    assert result["concordance"] == pytest.approx((calls == obs)[mask].mean())
    r = np.corrcoef(expected_dosage[mask], obs[mask])[0, 1]
    assert result["dosage_r2"] == pytest.approx(r**2, rel=1e-5)
    per_sample = [(calls[i] == obs[i])[mask[i]].mean() for i in range(50)]
    np.testing.assert_allclose(result["per_sample_concordance"], per_sample)
    assert result["per_sample_calls"].tolist() == mask.sum(axis=1).tolist()
