"""Device and dtype choice, and the cross-tile matrix's sample check. Oracle: torch's own view of
the machine (monkeypatched to a machine with and without CUDA devices)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vcf2embed.devices import resolve_device, resolve_dtype
from vcf2embed.errors import InputError
from vcf2embed.matrix import assemble
from vcf2embed.parquet import EmbeddingWriter


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="no CUDA device .* use device: auto or cpu"):
        resolve_device("cuda")
    assert resolve_device("auto") in (torch.device("cpu"), torch.device("mps"))


def test_cuda_index_out_of_range_names_the_count(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(InputError, match="only 2 CUDA device"):
        resolve_device("cuda:2")


def test_bad_names() -> None:
    with pytest.raises(InputError, match="use auto, cpu, cuda"):
        resolve_device("gpu0")
    with pytest.raises(InputError, match="use one of float32"):
        resolve_dtype("float64")


def test_matrix_refuses_tiles_with_other_samples(tmp_path: Path) -> None:
    for tile, samples in (("a", ["s1", "s2"]), ("b", ["s2", "s1"])):
        path = tmp_path / "layer=latent" / f"{tile}.parquet"
        writer = EmbeddingWriter(path, tile, 2, {})
        writer.write(samples, np.zeros((2, 2), dtype=np.float32))
        writer.close()
    with pytest.raises(InputError, match="b.parquet: its samples differ"):
        assemble(tmp_path, "latent", ["a", "b"])
    assert assemble(tmp_path, "latent", ["a"]).samples == ["s1", "s2"]
