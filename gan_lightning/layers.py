"""Blocks shared by two or more net families: D normalization, spectral norm, DCGAN init, width ladders."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_lightning.errors import ConfigError, check_choice, check_power_of_two

# compare_gan's choices for D: none, BatchNorm, LayerNorm, spectral norm
NORMALIZATIONS = ("none", "batch", "layer", "spectral")


def check_normalization(kind: str) -> str:
    """Raise ConfigError unless `kind` is one of NORMALIZATIONS; return it."""
    check_choice("arch.discriminator.normalization", kind, NORMALIZATIONS)
    return kind


def check_unconditional(role: str, family: str, c_dim: int) -> None:
    """Raise ConfigError for c_dim != 0: conditional nets come in a later issue."""
    if c_dim != 0:
        raise ConfigError(f"arch.{role}.c_dim={c_dim!r} is not supported by {family} yet; accepted: 0")


def check_conv_net(role: str, family: str, img_resolution: int, c_dim: int, normalization: str = "none") -> int:
    """Validate the arguments every conv net shares (resolution a power of two >= 16); return log2(resolution)."""
    check_unconditional(role, family, c_dim)
    check_normalization(normalization)
    return check_power_of_two(f"arch.{role}.img_resolution", img_resolution, 16)


def d_norm(kind: str, channels: int, ndim: int = 2) -> nn.Module:
    """Normalization after a layer: BatchNorm, a per-sample layer norm, or Identity (none, spectral)."""
    check_normalization(kind)
    if kind == "batch":
        return nn.BatchNorm2d(channels) if ndim == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":
        # one group: mean and variance over (C, H, W) of each sample, affine per channel
        return nn.GroupNorm(1, channels) if ndim == 2 else nn.LayerNorm(channels)
    return nn.Identity()  # spectral acts on the weights, see apply_spectral


def has_bias(kind: str) -> bool:
    """Whether a layer followed by normalization `kind` needs a bias (BatchNorm subtracts it again)."""
    return kind != "batch"


def maybe_spectral(module: nn.Module, kind: str) -> nn.Module:
    """Spectral-normalize the weight of `module` in place when kind == 'spectral'; return it."""
    if kind == "spectral":
        spectral_norm(module)
    return module


def apply_spectral(net: nn.Module, kind: str) -> nn.Module:
    """Spectral-normalize every Conv2d and Linear of `net` when kind == 'spectral' (call after init)."""
    for layer in list(net.modules()):  # a list: registering parametrizations adds modules
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            maybe_spectral(layer, kind)
    return net


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


def widths(channels: int, cap: int, count: int) -> list[int]:
    """`count` G widths, coarsest first: the last is `channels`, each earlier one doubles, capped at `cap`."""
    return [min(channels << (count - 1 - i), cap) for i in range(count)]


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
