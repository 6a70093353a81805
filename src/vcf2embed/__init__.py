"""vcf2embed: per-sample embeddings from per-tile genotype autoencoders."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "capture", "load_model", "read_embeddings"]


def __getattr__(name: str) -> Any:
    # torch costs seconds to import: only the steps that run a model pay for it
    if name == "capture":
        from .hooks import capture

        return capture
    if name == "load_model":
        from .models import load_model

        return load_model
    if name == "read_embeddings":
        from .export import read_embeddings

        return read_embeddings
    raise AttributeError(name)
