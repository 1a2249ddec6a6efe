"""The DCGAN-style blocks of dcgan and sndcgan: strided (transposed) convs and Radford et al.'s init."""

from __future__ import annotations

from torch import nn

from gan_lightning.nets.checks import d_norm, has_bias


def init_dcgan_(net: nn.Module) -> nn.Module:
    """DCGAN init: conv and linear weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return net


def up_block(in_channels: int, out_channels: int, stride: int = 2, padding: int = 1) -> nn.Sequential:
    """ConvTranspose2d 4x4 (stride 2 doubles H, W) + BatchNorm + ReLU; no bias, BatchNorm removes it."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride, padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def down_block(
    in_channels: int, out_channels: int, kernel_size: int, stride: int, normalization: str, slope: float
) -> nn.Sequential:
    """Conv2d (H, W divided by stride) + normalization + LeakyReLU(slope); spectral norm comes later."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, bias=has_bias(normalization)),
        d_norm(normalization, out_channels),
        nn.LeakyReLU(slope),
    )
