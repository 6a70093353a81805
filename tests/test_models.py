"""Model loading: the lab format, native bundles, validation and safety."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from oracle import encoder_forward, model_weights

from vcf2embed.architectures import LabAutoencoder, lab_widths
from vcf2embed.errors import ModelError
from vcf2embed.models import convert_lab_model, load_model, save_bundle
from vcf2embed.params import read_param_file
from vcf2embed.variants import VariantList


def lab_model(
    folder: Path,
    n_var=10,
    ni=None,
    no=None,
    n_layers=4,
    size_ratio=0.5,
    activation="relu",
    pos_txt=False,
    extra="",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ni = ni or 2 * n_var
    no = no or ni
    torch.manual_seed(0)
    m = LabAutoencoder(ni, no, n_layers, size_ratio, activation)
    torch.save(m.state_dict(), folder / "m.pth")
    params = f"n_layers = {n_layers}\nsize_ratio = {size_ratio}\nactivation = '{activation}'\n"
    if ni != 2 * n_var or no != ni:
        params += f"ni = {ni}\nno = {no}\n"
    (folder / "m_param.py").write_text(params + extra)
    if pos_txt:
        (folder / "m_pos.txt").write_text("".join(f"{1000 + i}\n" for i in range(n_var)))
    else:
        (folder / "m.pos").write_text(
            "#CHROM\tPOS\tID\tREF\tALT\n"
            + "".join(f"22\t{1000 + i}\t.\tA\tG\n" for i in range(n_var))
        )
    return folder / "m.pth"


def test_lab_widths() -> None:
    assert lab_widths(7200, 4, 0.5) == [7200, 3600, 1800]
    assert lab_widths(100, 6, 1.0) == [100, 100, 100, 100]
    assert lab_widths(101, 2, 0.5) == [101, 50]


def test_lab_architecture_shapes() -> None:
    m = LabAutoencoder(40, 30, 4, 0.5, "tanh")
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["encoder.0.weight"] == (15, 40)
    assert shapes["encoder.2.weight"] == (7, 15)
    assert shapes["decoder.0.weight"] == (15, 7)
    assert shapes["decoder.2.weight"] == (30, 15)
    assert isinstance(m.decoder[-1], torch.nn.Sigmoid)
    assert isinstance(m.encoder[1], torch.nn.Tanh)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leakyrelu"])
def test_load_lab_and_match_numpy(tmp_path: Path, activation: str) -> None:
    pth = lab_model(tmp_path, activation=activation, extra="last_epoch = 12\nearly_stop = 5\n")
    model = load_model(pth)
    assert (
        model.format == "lab" and model.encoding == "allele_presence" and model.latent == "encoder"
    )
    x = np.random.default_rng(1).integers(0, 2, (8, 20)).astype(np.float32)
    weights, act, _ = model_weights(pth)
    with torch.inference_mode():
        got = model.module.encoder(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, encoder_forward(x, weights, act), atol=1e-5)


def test_ni_differs_from_no(tmp_path: Path) -> None:
    pth = lab_model(tmp_path, n_var=10, ni=20, no=14)
    model = load_model(pth)
    assert model.n_inputs == 20 and not model.reconstructs_input
    assert model.module.decoder[-2].out_features == 14


def test_phased_lab_model(tmp_path: Path) -> None:
    assert load_model(lab_model(tmp_path, n_var=10, ni=40, no=40)).encoding == "phased"


def test_weights_do_not_fit_variant_list(tmp_path: Path) -> None:
    pth = lab_model(tmp_path, n_var=10)
    (tmp_path / "m.pos").write_text(
        "#h\n" + "".join(f"22\t{1000 + i}\t.\tA\tG\n" for i in range(11))
    )
    with pytest.raises(ModelError, match="takes 20 inputs but its variant list has 11 variants"):
        load_model(pth)


def test_wrong_param_shapes(tmp_path: Path) -> None:
    pth = lab_model(tmp_path)
    (tmp_path / "m_param.py").write_text("n_layers = 4\nsize_ratio = 0.25\nactivation = 'relu'\n")
    with pytest.raises(ModelError, match="encoder.0.weight has shape"):
        load_model(pth)


def test_unknown_activation(tmp_path: Path) -> None:
    pth = lab_model(tmp_path)
    (tmp_path / "m_param.py").write_text("n_layers = 4\nsize_ratio = 0.5\nactivation = 'swish'\n")
    with pytest.raises(ModelError, match="unknown activation 'swish'"):
        load_model(pth)


def test_positions_only_list(tmp_path: Path) -> None:
    model = load_model(lab_model(tmp_path, pos_txt=True), chrom="22")
    assert model.variants.positions_only and len(model.variants) == 10


def test_param_file_with_code_is_not_run(tmp_path: Path) -> None:
    pth = lab_model(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "m_param.py").write_text(f"n_layers = 4\nimport os\nos.system('touch {marker}')\n")
    with pytest.raises(ModelError, match="line 2: only assignments"):
        load_model(pth)
    (tmp_path / "m_param.py").write_text(f"n_layers = __import__('os').system('touch {marker}')\n")
    with pytest.raises(ModelError, match="not a literal"):
        read_param_file(tmp_path / "m_param.py")
    assert not marker.exists()


class _Payload:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_pickle_payload_is_refused(tmp_path: Path) -> None:
    pth = lab_model(tmp_path)
    marker = tmp_path / "pwned"
    torch.save({"encoder.0.weight": _Payload(str(marker))}, pth)
    with pytest.raises(ModelError, match="refused to load"):
        load_model(pth)
    assert not marker.exists()


def test_bundle_roundtrip_and_convert(tmp_path: Path) -> None:
    pth = lab_model(tmp_path / "lab")
    bundle = convert_lab_model(pth, tmp_path / "bundle")
    a, b = load_model(pth), load_model(bundle)
    assert b.format == "bundle" and b.encoding == "allele_presence"
    for (k, v), (k2, v2) in zip(a.module.state_dict().items(), b.module.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert a.variants.label(3) == b.variants.label(3)
    assert a.sha256 != b.sha256 and len(b.sha256) == 64


def test_bundle_version_and_user_code_gate(tmp_path: Path) -> None:
    v = VariantList(("1",), np.array([5]), ("A",), ("G",), "x")
    m = LabAutoencoder(2, 2, 2, 1.0)
    folder = save_bundle(
        tmp_path / "b",
        m,
        v,
        {"name": "lab_autoencoder", "ni": 2, "no": 2, "n_layers": 2, "size_ratio": 1.0},
    )
    meta = json.loads((folder / "model.json").read_text())
    meta["format_version"] = 99
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="version 99"):
        load_model(folder)
    meta["format_version"] = 1
    meta["architecture"] = {"name": "user_class", "class": "torch.nn:Identity", "kwargs": {}}
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="opt-in"):
        load_model(folder)


def test_example_models_load(example: Path) -> None:
    for folder in sorted((example / "models").iterdir()):
        target = (
            folder / f"{folder.name}.pth" if (folder / f"{folder.name}.pth").exists() else folder
        )
        model = load_model(target)
        assert model.n_inputs == 2 * len(model.variants)


def test_missing_companion_file(tmp_path: Path) -> None:
    pth = lab_model(tmp_path)
    (tmp_path / "m_param.py").unlink()
    with pytest.raises(ModelError, match="m_param.py is missing"):
        load_model(pth)
    shutil.rmtree(tmp_path)


def test_user_class_with_opt_in(tmp_path: Path) -> None:
    from user_models import TinyVAE

    from vcf2embed.forward import compute_activations

    torch.manual_seed(0)
    m = TinyVAE(n_inputs=6, latent=2)
    v = VariantList(("1",) * 3, np.array([5, 6, 7]), ("A",) * 3, ("G",) * 3, "x")
    arch = {
        "name": "user_class",
        "class": "user_models:TinyVAE",
        "kwargs": {"n_inputs": 6, "latent": 2},
    }
    folder = save_bundle(tmp_path / "vae", m, v, arch, latent="mu")
    model = load_model(folder, allow_user_code=True)
    x = np.random.default_rng(0).integers(0, 2, (4, 6)).astype(np.float32)
    acts = compute_activations(model, x, ["latent", "body.*"], torch.device("cpu"))
    with torch.inference_mode():
        expected = m.mu(m.body(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(acts["mu"], expected, atol=1e-6)
    assert set(acts) == {"mu", "body.0", "body.1"}


def test_size_ratio_one(tmp_path: Path) -> None:
    model = load_model(lab_model(tmp_path, size_ratio=1.0, n_layers=6))
    assert [
        layer.out_features for layer in model.module.encoder if hasattr(layer, "out_features")
    ] == [20, 20, 20]


def test_output_positions_list_gets_a_helpful_error(tmp_path: Path) -> None:
    # the lab's trainer writes NAME_pos.txt after MAF filtering: it lists the output variants
    pth = lab_model(tmp_path, n_var=10, ni=20, no=14, pos_txt=True)
    (tmp_path / "m_pos.txt").write_text("".join(f"{1000 + i}\n" for i in range(7)))
    with pytest.raises(ModelError, match="matches the model's output layer .* 10 input variants"):
        load_model(pth, chrom="22")


def test_param_file_as_the_lab_trainer_writes_it(tmp_path: Path) -> None:
    pth = lab_model(tmp_path, n_var=10)
    (tmp_path / "m_param.py").write_text(
        "n_layers = 4\nsize_ratio = 0.5\nactivation = 'relu'\nni = 20\nno = 20\nearly_stop = 0\n"
        "last_epoch = 500\navg_loss = 0.1234\nlast_epoch = 1000\navg_loss = 0.1\nearly_stop = 1500\n"
    )
    model = load_model(pth)
    assert model.settings["last_epoch"] == 1000 and model.settings["early_stop"] == 1500
