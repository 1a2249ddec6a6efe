"""Blocks shared by two or more net families: D normalization, spectral norm, DCGAN init, width ladders,
and the equalized-learning-rate layers, pixel norm and minibatch stddev of PGGAN and StyleGAN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
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


# --- Karras et al. (PGGAN 2018, sec. 4; StyleGAN 2019): layers shared by pggan and stylegan -------------


class EqualizedLinear(nn.Module):
    """Linear layer with equalized learning rate (PGGAN sec. 4.1).

    Weights are stored as N(0, 1 / lr_multiplier) and scaled at run time by
    gain / sqrt(fan_in) * lr_multiplier (He's constant), so Adam sees every weight on the same scale.
    `lr_multiplier` < 1 slows a layer down (StyleGAN's mapping net uses 0.01).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier)) if bias else None
        self.weight_gain = gain / math.sqrt(in_features) * lr_multiplier
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.bias_gain
        return F.linear(x, self.weight * self.weight_gain, bias)


class EqualizedConv2d(nn.Module):
    """Conv2d (stride 1, 'same' padding) with equalized learning rate: N(0, 1) weights times gain / sqrt(fan_in)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = math.sqrt(2), padding: int | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2 if padding is None else padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Pixel-wise feature vector normalization (PGGAN sec. 4.2): x / sqrt(mean over channels of x^2 + eps)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


class MinibatchStddev(nn.Module):
    """Minibatch standard deviation (PGGAN sec. 3): one extra feature map per group of samples.

    The batch is split into groups of `group_size` (the official code's 4; the whole batch when it does not
    divide); within a group, the standard deviation of every feature at every pixel is averaged into one
    number, appended to each sample of the group as a constant channel. [N, C, H, W] -> [N, C + 1, H, W].
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size = group_size
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = n
        y = x.reshape(g, n // g, c, h, w).float()  # sample i lands in group i % (n // g), as the official code
        y = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # [n/g, C, H, W]
        y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # [n/g]
        y = y.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)
        return torch.cat([x, y], dim=1)


def upsample(x: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour upsampling by an integer factor: [N, C, H, W] -> [N, C, H * f, W * f]."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: Tensor, factor: int) -> Tensor:
    """Average pooling by an integer factor: [N, C, H, W] -> [N, C, H / f, W / f]."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


def fade_resolution(x: Tensor, resolution: int, alpha: float) -> Tensor:
    """Images at full size shown as PGGAN's D sees them at `resolution` while it fades in (sec. 3, Figure 2).

    x [N, C, R, R] is average-pooled to `resolution`, blended with its half-resolution version (pooled once
    more, upsampled back) by alpha, and nearest-upsampled to R again: alpha = 0 gives the previous stage,
    alpha = 1 the new one. The output path of the progressive G does the same to its toRGB images.
    """
    size = x.shape[-1]
    x = downsample(x, size // resolution)
    if alpha < 1 and resolution > 1:
        x = torch.lerp(upsample(downsample(x, 2), 2), x, alpha)
    return upsample(x, size // resolution)
