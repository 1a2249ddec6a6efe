"""Layers of StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", CVPR,
arXiv:1912.04958) shared by its generator (nets/stylegan2.py) and its residual D (nets/residual_d.py).

Every weight has an equalized learning rate: stored N(0, 1) (N(0, 1 / lr_multiplier) in the mapping net),
scaled by lr_multiplier / sqrt(fan_in) at run time. The bias is added before the activation, and the
activation is followed by its gain (sqrt(2) for leaky ReLU 0.2), as stylegan2-ada-pytorch's `bias_act`; an
optional clamp of the result to +-conv_clamp (StyleGAN2-ADA's 256, which guards fp16).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import check_choice
from gan_lightning.nets.eqlr import EqualizedConv2d, EqualizedLinear, PixelNorm
from gan_lightning.nets.fir import conv2d_down

ACTIVATION_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2)}


def bias_act(x: Tensor, bias: Tensor | None, activation: str = "linear", gain: float = 1.0,
             clamp: float | None = None) -> Tensor:
    """(x + bias on dim 1), the activation, times its gain and `gain`, clamped to +-clamp when set."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *[1] * (x.dim() - 2))
    if activation == "lrelu":
        x = F.leaky_relu(x, 0.2)
    gain = ACTIVATION_GAINS[activation] * gain
    if gain != 1:
        x = x * gain
    return x if clamp is None else x.clamp(-clamp, clamp)


class FullyConnected(EqualizedLinear):
    """An equalized linear layer followed by `activation` (linear or lrelu) and its gain."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0,
                 bias_init: float = 0.0) -> None:
        check_choice("activation", activation, ACTIVATION_GAINS)
        super().__init__(in_features, out_features, gain=1.0, lr_multiplier=lr_multiplier, bias_init=bias_init)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.bias_gain
        return bias_act(F.linear(x, self.weight * self.weight_gain), bias, self.activation)


class Conv2dLayer(EqualizedConv2d):
    """An equalized k x k conv ('same' padding; with `down` 2, FIR-filtered and strided), bias, activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: int = 1, conv_clamp: float | None = None) -> None:
        check_choice("activation", activation, ACTIVATION_GAINS)
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, gain=1.0)
        self.activation, self.down, self.conv_clamp = activation, down, conv_clamp

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        w = self.weight * self.weight_gain
        if self.down > 1:
            x = conv2d_down(x, w, self.padding)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, self.activation, gain, clamp)


class MappingNetwork(nn.Module):
    """z (2nd-moment normalized) and an embedding of one-hot c (normalized) -> w through `num_layers` lrelu FC
    layers at `lr_multiplier`; tracks the mean w (truncation's centre) when `w_avg_beta` is set."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int = 8, lr_multiplier: float = 0.01,
                 w_avg_beta: float | None = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_avg_beta = z_dim, c_dim, w_avg_beta
        self.normalize = PixelNorm()
        self.embed = FullyConnected(c_dim, w_dim) if c_dim else None
        dims = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(FullyConnected(a, b, "lrelu", lr_multiplier) for a, b in zip(dims, dims[1:]))
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor | None, c: Tensor | None = None, update_w_avg: bool = True) -> Tensor:
        """w [N, w_dim] from z [N, z_dim] (None when z_dim = 0) and labels c [N] (int64)."""
        parts = [] if z is None else [self.normalize(z.float())]
        if self.embed is not None:
            parts.append(self.normalize(self.embed(F.one_hot(c, self.c_dim).float())))
        x = torch.cat(parts, dim=1)
        for layer in self.layers:
            x = layer(x)
        if self.w_avg_beta is not None and self.training and update_w_avg:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return x
