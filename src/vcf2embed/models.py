"""Loading tile models safely: the native bundle, the lab's format and opt-in user classes."""

from __future__ import annotations

import importlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .architectures import LabAutoencoder, lab_widths
from .encodings import ENCODINGS, features_per_variant
from .errors import ModelError
from .files import atomic_path, sha256_of, write_text_atomic
from .params import read_param_file
from .variants import (
    VariantList,
    detect_format,
    lab_companions,
    lab_variants,
    read_variants_tsv,
    require_file,
)

BUNDLE_FORMAT = "vcf2embed-bundle"
BUNDLE_VERSION = 1


@dataclass
class LoadedModel:
    """A tile model ready to run, with what is needed to feed and describe it."""

    module: nn.Module
    variants: VariantList
    encoding: str
    latent: str
    format: str
    sha256: str
    path: Path
    n_inputs: int
    reconstructs_input: bool
    settings: dict[str, Any] = field(default_factory=dict)


def load_model(
    path: str | Path, chrom: str | None = None, allow_user_code: bool = False
) -> LoadedModel:
    """Load the model at `path`, detecting its format; weights never run code."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model {path} does not exist")
    fmt = detect_format(path)
    if fmt == "lab":
        return _load_lab(path, chrom)
    return _load_bundle(path.parent if path.name == "model.json" else path, allow_user_code)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a `.pth` state_dict with `weights_only=True`, refusing anything but tensors."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{path}: refused to load; it is not a plain state_dict of tensors "
            f"(torch.load weights_only=True said: {first})"
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path}: expected a state_dict (a dict of tensors)")
    return obj


def _check_state_dict(module: nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{where}: weights do not fit the architecture; missing keys {missing[:5]}, "
            f"unexpected keys {unexpected[:5]}"
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ModelError(
                f"{where}: weight {key} has shape {tuple(state[key].shape)}, the architecture "
                f"expects {tuple(tensor.shape)}"
            )
    module.load_state_dict(state, assign=True)  # no second copy of the weights


def _lab_encoding(ni: int, n_variants: int, where: Path, no: int | None = None) -> str:
    if ni == 2 * n_variants:
        return "allele_presence"
    if ni == 4 * n_variants:
        return "phased"
    hint = ""
    if no is not None and no != ni and no == 2 * n_variants:
        hint = (
            f"; the list matches the model's output layer (no = {no}, MAF-filtered), as the lab's "
            f"training script writes NAME_pos.txt: give NAME.pos with the {ni // 2} input variants"
        )
    raise ModelError(
        f"{where}: the model takes {ni} inputs but its variant list has {n_variants} variants; "
        f"expected {2 * n_variants} (2 per variant) or {4 * n_variants} (4 per variant, phased){hint}"
    )


def _load_lab(pth: Path, chrom: str | None) -> LoadedModel:
    param_path = require_file(lab_companions(pth)[0])
    params = read_param_file(param_path)
    for key in ("n_layers", "size_ratio", "activation"):
        if key not in params:
            raise ModelError(f"{param_path}: {key} is not set")
    variants = lab_variants(pth, chrom)
    state = load_state_dict(pth)
    ni = params.get("ni")
    if ni is None:
        first = state.get("encoder.0.weight")
        if first is None:
            raise ModelError(f"{pth}: no encoder.0.weight; not a lab autoencoder state_dict")
        ni = int(first.shape[1])
    no = int(params.get("no", ni))
    encoding = _lab_encoding(int(ni), len(variants), pth, no)
    with torch.device("meta"):  # no random initialisation: the weights come from the file
        module = LabAutoencoder(
            int(ni),
            no,
            int(params["n_layers"]),
            float(params["size_ratio"]),
            str(params["activation"]),
        )
    _check_state_dict(module, state, pth)
    module.eval()
    files = [pth, param_path, Path(variants.source)]
    return LoadedModel(
        module=module,
        variants=variants,
        encoding=encoding,
        latent="encoder",
        format="lab",
        sha256=sha256_of(files),
        path=pth,
        n_inputs=int(ni),
        reconstructs_input=no == ni,
        settings={k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))},
    )


def _build_module(arch: dict[str, Any], where: Path, allow_user_code: bool) -> nn.Module:
    name = arch.get("name")
    if name == "lab_autoencoder":
        try:
            return LabAutoencoder(
                int(arch["ni"]),
                int(arch["no"]),
                int(arch["n_layers"]),
                float(arch["size_ratio"]),
                str(arch.get("activation", "relu")),
            )
        except KeyError as exc:
            raise ModelError(f"{where}: architecture lacks {exc.args[0]}") from None
    if name == "user_class":
        if not allow_user_code:
            raise ModelError(
                f"{where}: this model names a user class ({arch.get('class')}); importing user "
                "code is opt-in: set `allow_user_code: true` in the config"
            )
        target = str(arch.get("class", ""))
        module_name, _, class_name = target.partition(":")
        if not module_name or not class_name:
            raise ModelError(f"{where}: class must be 'package.module:ClassName', got {target!r}")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ModelError(f"{where}: cannot import {target}: {exc}") from None
        return cls(**arch.get("kwargs", {}))
    raise ModelError(
        f"{where}: unknown architecture name {name!r}; use lab_autoencoder or user_class"
    )


def _load_bundle(folder: Path, allow_user_code: bool) -> LoadedModel:
    meta_path = require_file(folder / "model.json")
    weights = require_file(folder / "model.safetensors")
    variants_path = require_file(folder / "variants.tsv")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{meta_path}: not valid JSON ({exc})") from None
    if meta.get("format") != BUNDLE_FORMAT or meta.get("format_version") != BUNDLE_VERSION:
        raise ModelError(
            f"{meta_path}: format {meta.get('format')!r} version {meta.get('format_version')!r}; "
            f"this vcf2embed reads {BUNDLE_FORMAT} version {BUNDLE_VERSION}"
        )
    encoding = meta.get("encoding", "allele_presence")
    if encoding not in ENCODINGS:
        raise ModelError(
            f"{meta_path}: unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}"
        )
    variants = read_variants_tsv(variants_path)
    arch = meta.get("architecture", {})
    # no random initialisation of the package's own architecture: the weights come from the file
    # (a user class may create buffers outside its state_dict, so it is built for real)
    device = "meta" if arch.get("name") == "lab_autoencoder" else "cpu"
    with torch.device(device):
        module = _build_module(arch, meta_path, allow_user_code)
    _check_state_dict(module, _read_safetensors(weights), weights)
    n_inputs = len(variants) * features_per_variant(encoding)
    arch_inputs = meta.get("architecture", {}).get("ni")
    if arch_inputs is not None and int(arch_inputs) != n_inputs:
        raise ModelError(
            f"{meta_path}: the model takes {arch_inputs} inputs but {len(variants)} variants "
            f"encoded as {encoding} give {n_inputs}"
        )
    module.eval()
    return LoadedModel(
        module=module,
        variants=variants,
        encoding=encoding,
        latent=str(meta.get("latent", "encoder")),
        format="bundle",
        sha256=sha256_of([meta_path, weights, variants_path]),
        path=folder,
        n_inputs=n_inputs,
        reconstructs_input=bool(meta.get("reconstructs_input", False)),
        settings=meta,
    )


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; raise ModelError if it is not one."""
    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise ModelError(
            f"{path} is not a readable safetensors file ({exc}); re-copy or re-save the model"
        ) from None


def save_bundle(
    folder: str | Path,
    module: nn.Module,
    variants: VariantList,
    architecture: dict[str, Any],
    encoding: str = "allele_presence",
    latent: str = "encoder",
    reconstructs_input: bool = True,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `module` as a native bundle folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "architecture": architecture,
        "encoding": encoding,
        "latent": latent,
        "reconstructs_input": reconstructs_input,
        **(extra or {}),
    }
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    write_text_atomic(folder / "variants.tsv", variants.to_tsv())
    write_text_atomic(folder / "model.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return folder


def convert_lab_model(pth: str | Path, out: str | Path, chrom: str | None = None) -> Path:
    """Turn a lab-format model into a native bundle with the same weights."""
    model = _load_lab(Path(pth), chrom)
    if model.variants.positions_only:
        raise ModelError(
            f"{pth}: a positions-only variant list has no alleles; a native bundle needs "
            "chrom, pos, ref and alt for every variant"
        )
    module = model.module
    assert isinstance(module, LabAutoencoder)
    s = model.settings
    arch = {
        "name": "lab_autoencoder",
        "ni": module.ni,
        "no": module.no,
        "n_layers": int(s["n_layers"]),
        "size_ratio": float(s["size_ratio"]),
        "activation": str(s["activation"]),
    }
    lab_widths(module.no, arch["n_layers"], arch["size_ratio"])
    return save_bundle(
        out,
        module,
        model.variants,
        arch,
        encoding=model.encoding,
        reconstructs_input=model.reconstructs_input,
        extra={"converted_from": {"path": str(pth), "sha256": model.sha256}},
    )
