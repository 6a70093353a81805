"""A readable table of a model's modules: names, types, output shapes, parameters."""

from __future__ import annotations

import torch

from .hooks import capture, named_modules
from .models import LoadedModel
from .text_table import text_table


def layer_rows(model: LoadedModel) -> list[dict]:
    """Return one row per named module with its output shape for the model's real input width."""
    module = model.module.eval()
    modules = named_modules(module)
    shapes: dict[str, str] = {}
    if modules:
        with torch.inference_mode(), capture(module, ["all"], latent=model.latent) as acts:
            module(torch.zeros(1, model.n_inputs))
        for key, tensor in acts.items():
            base = key.split("@")[0]
            shapes.setdefault(base, "x".join(str(d) for d in tensor.shape[1:]) or "scalar")
    rows = []
    for name, mod in modules.items():
        rows.append(
            {
                "name": name,
                "type": type(mod).__name__,
                "output": shapes.get(name, "-"),
                "params": sum(p.numel() for p in mod.parameters(recurse=False)),
                "latent": name == model.latent,
            }
        )
    return rows


def layer_table(model: LoadedModel) -> str:
    """Render `layer_rows` as an aligned text table."""
    rows = layer_rows(model)
    header = ("module", "type", "output", "params", "")
    body = [
        (r["name"], r["type"], r["output"], f"{r['params']:,}", "<- latent" if r["latent"] else "")
        for r in rows
    ]
    lines = [
        f"model {model.path} ({model.format}, {model.encoding}, {len(model.variants)} variants, "
        f"{model.n_inputs} inputs, sha256 {model.sha256[:12]})",
        *text_table(header, body),
    ]
    total = sum(p.numel() for p in model.module.parameters())
    lines.append(f"total parameters: {total:,}")
    return "\n".join(lines)
