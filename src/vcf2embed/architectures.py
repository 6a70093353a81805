"""Model architectures the package can rebuild from plain settings."""

from __future__ import annotations

from torch import nn

from .errors import ModelError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leakyrelu")


def make_activation(name: str) -> nn.Module:
    """Return the activation module the lab's code uses for `name`."""
    key = name.lower().replace("_", "")
    if key == "relu":
        return nn.ReLU(inplace=True)
    if key == "tanh":
        return nn.Tanh()
    if key == "sigmoid":
        return nn.Sigmoid()
    if key == "leakyrelu":
        return nn.LeakyReLU()  # as the lab's code builds it (not in place)
    raise ModelError(f"unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)}")


def lab_widths(no: int, n_layers: int, size_ratio: float) -> list[int]:
    """Return the layer widths `[no, w1, ..., latent]` of the lab architecture."""
    if n_layers < 2:
        raise ModelError(f"n_layers = {n_layers}: the lab architecture needs n_layers >= 2")
    if not 0 < size_ratio <= 1:
        raise ModelError(f"size_ratio = {size_ratio}: it must be in (0, 1]")
    widths = [int(no)]
    for _ in range(n_layers // 2):
        widths.append(int(widths[-1] * size_ratio))
        if widths[-1] < 1:
            raise ModelError(
                f"no = {no}, n_layers = {n_layers}, size_ratio = {size_ratio} shrink a layer "
                "to width 0"
            )
    return widths


class LabAutoencoder(nn.Module):
    """The Torkamani lab's denoising autoencoder: `encoder` and `decoder` are `nn.Sequential`."""

    latent_module = "encoder"

    def __init__(
        self, ni: int, no: int, n_layers: int, size_ratio: float, activation: str = "relu"
    ) -> None:
        super().__init__()
        widths = lab_widths(no, n_layers, size_ratio)
        enc: list[nn.Module] = []
        prev = ni
        for width in widths[1:]:
            enc += [nn.Linear(prev, width), make_activation(activation)]
            prev = width
        dec: list[nn.Module] = []
        back = widths[::-1]
        for i, width in enumerate(back[1:], start=1):
            dec.append(nn.Linear(prev, width))
            dec.append(nn.Sigmoid() if i == len(back) - 1 else make_activation(activation))
            prev = width
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)
        self.ni, self.no = int(ni), int(no)

    def forward(self, x):  # noqa: D102
        return self.decoder(self.encoder(x))
