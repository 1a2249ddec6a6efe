"""Fully-connected GAN: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (arXiv:1406.2661).

G and D are multilayer perceptrons with LeakyReLU(0.2) hidden layers. Any image shape works, down to the
2D toy datasets, whose points are [N, 2, 1, 1] (img_resolution=1, img_channels=2).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets.checks import (
    apply_spectral,
    check_normalization,
    check_unconditional,
    d_norm,
    has_bias,
)


def _check_resolution(name: str, value: int) -> None:
    """Raise ConfigError unless `value` is an integer >= 1."""
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r} is not supported; accepted: an integer >= 1")


def _hidden(in_features: int, out_features: int, normalization: str, dropout: float = 0.0) -> list[nn.Module]:
    """One hidden layer: Linear + normalization + LeakyReLU(0.2) (+ dropout)."""
    layers = [
        nn.Linear(in_features, out_features, bias=has_bias(normalization)),
        d_norm(normalization, out_features, ndim=1),
        nn.LeakyReLU(0.2),
    ]
    return layers + [nn.Dropout(dropout)] if dropout > 0 else layers


class Generator(nn.Module):
    """MLP generator: z -> hidden_sizes -> img_channels * R * R, tanh, reshaped to an image."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        hidden_sizes: Sequence[int] = (256, 512, 1024),
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        check_unconditional("generator", "mlp", c_dim)
        _check_resolution("arch.generator.img_resolution", img_resolution)
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        layers: list[nn.Module] = []
        width = z_dim
        for size in hidden_sizes:
            layers += _hidden(width, size, "batch" if batch_norm else "none")
            width = size
        layers += [nn.Linear(width, img_channels * img_resolution**2), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Map z [N, z_dim] to images [N, C, R, R] in [-1, 1]; c is unused (unconditional)."""
        return self.net(z).view(-1, self.img_channels, self.img_resolution, self.img_resolution)


class Discriminator(nn.Module):
    """MLP discriminator: flattened image -> hidden_sizes -> one logit."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        normalization: str = "none",
        hidden_sizes: Sequence[int] = (512, 256),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_unconditional("discriminator", "mlp", c_dim)
        _check_resolution("arch.discriminator.img_resolution", img_resolution)
        check_normalization(normalization)
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"arch.discriminator.dropout={dropout!r} is not supported; accepted: 0 <= dropout < 1")
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        layers: list[nn.Module] = [nn.Flatten()]
        width = img_channels * img_resolution**2
        for size in hidden_sizes:
            layers += _hidden(width, size, normalization, dropout)
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = apply_spectral(nn.Sequential(*layers), normalization)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """Map images [N, C, R, R] to raw logits [N]; c is unused (unconditional)."""
        return self.net(x).squeeze(1)

