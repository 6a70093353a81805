"""Forward-hook capture on any nn.Module, checked against calling sub-modules directly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vcf2embed import capture
from vcf2embed.architectures import LabAutoencoder
from vcf2embed.errors import SelectorError
from vcf2embed.hooks import resolve_selectors


def test_lab_capture_survives_inplace_relu() -> None:
    torch.manual_seed(0)
    m = LabAutoencoder(20, 20, 4, 0.5, "relu").eval()
    x = torch.randn(5, 20)
    with torch.inference_mode(), capture(m, ["encoder.0", "latent"]) as acts:
        m(x)
    expected_linear = m.encoder[0](x)
    assert (expected_linear < 0).any()  # the in-place ReLU would have zeroed these
    torch.testing.assert_close(acts["encoder.0"], expected_linear)
    torch.testing.assert_close(acts["encoder"], m.encoder(x))


@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_glob_type_all(ratio: float) -> None:
    m = LabAutoencoder(12, 8, 4, ratio, "tanh").eval()
    x = torch.randn(3, 12)
    with torch.inference_mode(), capture(m, ["encoder.*"]) as acts:
        m(x)
    assert list(acts) == ["encoder.0", "encoder.1", "encoder.2", "encoder.3"]
    h = x
    for i, layer in enumerate(m.encoder):
        h = layer(h)
        torch.testing.assert_close(acts[f"encoder.{i}"], h)
    assert list(resolve_selectors(m, ["type:Linear"])) == [
        "encoder.0",
        "encoder.2",
        "decoder.0",
        "decoder.2",
    ]
    assert len(resolve_selectors(m, ["all"])) == 10


class VAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(6, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        )
        self.heads = Heads()

    def forward(self, x):
        mu, logvar = self.heads(self.body(x))
        return mu + 0 * logvar["lv"]


class Heads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mu = nn.Linear(4, 2)
        self.logvar = nn.Linear(4, 2)

    def forward(self, h):
        return self.mu(h), {"lv": self.logvar(h)}


def test_tuple_and_dict_outputs_and_nested_names() -> None:
    m = VAE().eval()
    x = torch.randn(3, 6)
    with torch.inference_mode(), capture(m, ["heads", "body.2.*"]) as acts:
        m(x)
    h = m.body(x)
    torch.testing.assert_close(acts["heads.0"], m.heads.mu(h))
    torch.testing.assert_close(acts["heads.1.lv"], m.heads.logvar(h))
    torch.testing.assert_close(acts["body.2.1"], h)


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Linear(4, 4)

    def forward(self, x):
        return self.block(torch.relu(self.block(x)))


def test_module_called_twice_is_captured_per_call() -> None:
    m = Shared().eval()
    x = torch.randn(2, 4)
    with torch.inference_mode(), capture(m, ["block"], inputs=True) as acts:
        m(x)
    first = m.block(x)
    torch.testing.assert_close(acts["block@0"], first)
    torch.testing.assert_close(acts["block@1"], m.block(torch.relu(first)))
    torch.testing.assert_close(acts["block@0:input"], x)
    assert "block" not in acts
    with torch.inference_mode(), capture(m, ["block"]) as acts:
        m(x)
        m(x)  # a new forward of the root starts afresh
    assert sorted(acts) == ["block@0", "block@1"]


def test_input_capture_before_inplace_op() -> None:
    m = nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True)).eval()
    x = torch.randn(4, 3)
    with torch.inference_mode(), capture(m, ["1"], inputs=True) as acts:
        m(x)
    torch.testing.assert_close(acts["1:input"], m[0](x))


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
        )
        self.layer1 = nn.Sequential(Block(8), Block(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer1(self.stem(x))), 1))


def test_resnet_like_every_layer() -> None:
    torch.manual_seed(0)
    m = TinyResNet().eval()
    x = torch.randn(2, 3, 8, 8)
    with (
        torch.inference_mode(),
        capture(m, ["stem", "layer1.0", "layer1.1.conv1", "pool", "type:Linear"]) as acts,
    ):
        out = m(x)
    s = m.stem(x)
    b0 = m.layer1[0](s)
    torch.testing.assert_close(acts["stem"], s)
    torch.testing.assert_close(acts["layer1.0"], b0)
    torch.testing.assert_close(acts["layer1.1.conv1"], m.layer1[1].conv1(b0))
    torch.testing.assert_close(acts["fc"], out)
    # relu inside a block is called twice per forward: captured per call
    with torch.inference_mode(), capture(m, ["layer1.0.relu"]) as acts:
        m(x)
    assert set(acts) == {"layer1.0.relu@0", "layer1.0.relu@1"}
    torch.testing.assert_close(acts["layer1.0.relu@1"], b0)


def test_unmatched_selector_lists_near_names() -> None:
    m = LabAutoencoder(8, 8, 4, 0.5)
    with pytest.raises(
        SelectorError, match=r"'encoder.5' matched no module; did you mean .*encoder.0"
    ):
        resolve_selectors(m, ["encoder.5"])
    with pytest.raises(SelectorError, match="the model has types .*Linear"):
        resolve_selectors(m, ["type:Conv2d"])
    with pytest.raises(SelectorError, match="latent"):
        resolve_selectors(nn.Sequential(nn.Linear(2, 2)), ["latent"])


def test_hooks_removed_even_when_forward_raises() -> None:
    m = LabAutoencoder(8, 8, 4, 0.5)
    with pytest.raises(RuntimeError), capture(m, ["all"]):
        m(torch.randn(2, 5))  # wrong width
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in m.modules())
