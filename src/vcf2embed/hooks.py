"""Capturing what any layer of any `nn.Module` sees, through forward hooks.

    with capture(model, ["latent", "encoder.*", "type:Linear"]) as acts:
        model(x)
    acts["encoder"]  # a tensor, cloned as the module returned it

Selectors: an exact qualified module name, a glob on qualified names (`encoder.*`), a module
type (`type:Linear`), the alias `latent` (the model's bottleneck) and `all` (every named
sub-module). Outputs that are tuples, lists or dicts are stored per element as `name.0`,
`name.key`. With `inputs=True` a module's positional inputs are stored as `name:input`
(`name:input.0`, ... when there are several). A module called more than once in one forward
pass is stored per call as `name@0`, `name@1`, ...
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .errors import SelectorError


def named_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Return every named sub-module (the root excluded) by qualified name."""
    return {name: mod for name, mod in model.named_modules() if name}


def latent_name(model: nn.Module, latent: str | None = None) -> str | None:
    """Return the module name the `latent` alias stands for, if known."""
    return latent or getattr(model, "latent_module", None)


def resolve_selectors(
    model: nn.Module, selectors: Sequence[str], latent: str | None = None
) -> dict[str, str]:
    """Map each selected module name to the selector that chose it, in model order."""
    modules = named_modules(model)
    names = list(modules)
    chosen: dict[str, str] = {}
    for sel in selectors:
        sel = sel.strip()
        if not sel:
            raise SelectorError("an empty layer selector was given")
        if sel == "all":
            matched = names
        elif sel == "latent":
            target = latent_name(model, latent)
            if target is None:
                raise SelectorError(
                    f"`latent` is not defined for {type(model).__name__}; name the bottleneck "
                    "module (`latent=`) or select it by name"
                )
            if target not in modules:
                raise SelectorError(
                    f"latent module {target!r} is not in the model; {_near(target, names)}"
                )
            matched = [target]
        elif sel.startswith("type:"):
            type_name = sel[5:]
            matched = [n for n, m in modules.items() if type(m).__name__ == type_name]
            if not matched:
                types = sorted({type(m).__name__ for m in modules.values()})
                raise SelectorError(
                    f"selector {sel!r} matched no module; the model has types {', '.join(types)}"
                )
        elif any(ch in sel for ch in "*?["):
            matched = [n for n in names if fnmatch.fnmatchcase(n, sel)]
        else:
            matched = [sel] if sel in modules else []
        if not matched:
            raise SelectorError(f"selector {sel!r} matched no module; {_near(sel, names)}")
        for name in matched:
            chosen.setdefault(name, sel)
    return {n: chosen[n] for n in names if n in chosen}


def _near(sel: str, names: list[str]) -> str:
    close = difflib.get_close_matches(sel, names, n=5, cutoff=0.4)
    listing = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return f"{hint}available modules: {listing}"


def _flatten(prefix: str, value: Any, out: dict[str, torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        out[prefix] = value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            _flatten(f"{prefix}.{i}", item, out)


def _detached_copy(value: Any) -> Any:
    """Clone every tensor in `value`, so later in-place ops cannot change what was captured."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, Mapping):
        return {k: _detached_copy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_detached_copy(v) for v in value]
    return value


class Activations(dict):
    """Captured tensors by name, from the most recent forward pass of the root model."""


@contextlib.contextmanager
def capture(
    model: nn.Module,
    selectors: Sequence[str] | str,
    latent: str | None = None,
    inputs: bool = False,
) -> Iterator[Activations]:
    """Capture selected modules' outputs (and inputs) while the block runs; hooks are always removed."""
    if isinstance(selectors, str):
        selectors = [selectors]
    chosen = resolve_selectors(model, selectors, latent)
    modules = named_modules(model)
    acts = Activations()
    calls: dict[str, int] = {}
    records: list[tuple[str, int, str, Any]] = []

    def rebuild() -> None:
        acts.clear()
        for name, index, suffix, value in records:
            key = name if calls[name] == 1 else f"{name}@{index}"
            _flatten(key + suffix, value, acts)

    def reset(_module: nn.Module, _args: Any) -> None:
        acts.clear()
        calls.clear()
        records.clear()

    def make_pre_hook(name: str):
        def pre_hook(_module: nn.Module, args: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            if inputs:
                # in-place modules overwrite their input: copy it before the module runs
                arg = args[0] if len(args) == 1 else list(args)
                records.append((name, calls[name] - 1, ":input", _detached_copy(arg)))
                rebuild()

        return pre_hook

    def make_hook(name: str):
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            records.append((name, calls[name] - 1, "", _detached_copy(output)))
            rebuild()

        return hook

    handles: list[torch.utils.hooks.RemovableHandle] = []
    try:
        handles.append(model.register_forward_pre_hook(reset))
        for name in chosen:
            handles.append(modules[name].register_forward_pre_hook(make_pre_hook(name)))
            handles.append(modules[name].register_forward_hook(make_hook(name)))
        yield acts
    finally:
        for handle in handles:
            handle.remove()
