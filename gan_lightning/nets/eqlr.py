"""Karras et al. (PGGAN 2018, sec. 4; StyleGAN 2019): equalized learning rate, pixel norm, minibatch
stddev and the resampling of progressive growing, shared by pggan and stylegan."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
    The variance is the biased one, as in the official code; `unbiased=True` gives pytorch_GAN_zoo's.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8, unbiased: bool = False) -> None:
        super().__init__()
        self.group_size = group_size
        self.eps = eps
        self.unbiased = unbiased

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = n
        y = x.reshape(g, n // g, c, h, w).float()  # sample i lands in group i % (n // g), as the official code
        y = (y.var(dim=0, unbiased=self.unbiased) + self.eps).sqrt()  # [n/g, C, H, W]
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
