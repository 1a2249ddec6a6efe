"""StyleGAN: Karras, Laine and Aila, "A Style-Based Generator Architecture for Generative Adversarial
Networks", CVPR 2019 (arXiv:1812.04948): sec. 2 and Fig. 1b (mapping network of 8 FC layers with lr
multiplier 0.01, learned 4x4 constant, AdaIN after every conv from a per-layer affine map of w, per-pixel
noise with learned per-channel scales, sec. 3.2), sec. 3.1 (style mixing regularization, Table 2), appendix B
(truncation toward the tracked mean w, w_avg updated with beta 0.995).

Kept: equalized learning rate in G (layers.EqualizedLinear / EqualizedConv2d), pixel norm of z, two
conv-noise-LReLU-AdaIN layers per resolution (the first at 4x4 acts on the constant), 1x1 to_rgb at the end.
Changed: trained at full resolution (no progressive growing, as StyleGAN2), nearest upsampling without the
blur filter (`blur=True` adds the paper's [1, 2, 1] filter after each upsampling conv), a tanh on the output
because every net of this project returns images in [-1, 1] (`output_tanh=False`: the paper's linear output).
tests/test_parity_karras.py checks G against rosinality/style-based-gan-pytorch in that setting. Labels enter
as in StyleGAN2-ADA: an embedding of c, normalized and concatenated with z before the mapping MLP.
D is the ResNet-style D of nets/resnet.py with minibatch stddev (StyleGAN2's residual D, Fig. 7c).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import check_number, check_power_of_two
from gan_lightning.nets.checks import check_c_dim, check_labels, check_sizes, widths
from gan_lightning.nets.eqlr import EqualizedConv2d, EqualizedLinear, PixelNorm
from gan_lightning.nets.resnet import (
    Discriminator,  # with mbstd_group_size > 0, see conf/arch/stylegan.yaml
)


def adain(x: Tensor, style: Tensor, eps: float = 1e-8) -> Tensor:
    """Adaptive instance norm: each sample's channels normalized over (H, W), then scaled by (1 + ys), shifted by yb.

    x [N, C, H, W], style [N, 2C] = [ys, yb] (StyleGAN's `x * (style[:, 0] + 1) + style[:, 1]`).
    """
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + eps)
    scale, shift = style[:, :, None, None].chunk(2, dim=1)
    return x * (scale + 1) + shift


def blur(x: Tensor) -> Tensor:
    """StyleGAN's low-pass filter after upsampling: [1, 2, 1] x [1, 2, 1] / 16 per channel, zero padding. [N, C, H, W]"""
    k = x.new_tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(x, k, padding=1, groups=x.shape[1])


def mix_styles(ws: Tensor, w2: Tensor, cutoff: int) -> Tensor:
    """Style mixing: layers [0, cutoff) keep ws [N, L, w_dim], layers [cutoff, L) take w2 [N, w_dim]."""
    return torch.cat([ws[:, :cutoff], w2[:, None].expand(-1, ws.shape[1] - cutoff, -1)], dim=1)


class MappingNetwork(nn.Module):
    """z (and an embedding of c) -> w: pixel norm, then `num_layers` equalized FC layers with LReLU(0.2)."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int = 8, lr_multiplier: float = 0.01) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.embed = EqualizedLinear(c_dim, w_dim, gain=1.0) if c_dim else None  # on one-hot labels
        self.normalize = PixelNorm()
        dims = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_multiplier=lr_multiplier) for a, b in zip(dims, dims[1:]))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        x = self.normalize(z)
        if self.embed is not None:
            y = self.embed(F.one_hot(c, self.c_dim).to(z.dtype))
            x = torch.cat([x, self.normalize(y)], dim=1)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
        return x  # [N, w_dim]


class StyleLayer(nn.Module):
    """(Nearest x2 upsampling,) conv3x3, (blur,) per-pixel noise times a learned per-channel scale, bias, LReLU, AdaIN."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, up: bool = False, conv: bool = True,
                 blur: bool = False) -> None:
        super().__init__()
        self.up, self.blur = up, blur and up
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, bias=False) if conv else None
        self.noise_strength = nn.Parameter(torch.zeros(out_channels))  # StyleGAN initialises the scales at 0
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.style = EqualizedLinear(w_dim, 2 * out_channels, gain=1.0)  # the affine map "A" of Fig. 1b

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        """x [N, C, H, W], w [N, w_dim], noise [N, 1, H', W'] (drawn when None) -> [N, C', H', W']."""
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if self.conv is not None:
            x = self.conv(x)
        if self.blur:
            x = blur(x)
        if noise is None:  # one map for all channels
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        x = x + noise * self.noise_strength[None, :, None, None]
        x = F.leaky_relu(x + self.bias[None, :, None, None], 0.2)
        return adain(x, self.style(w))


class Generator(nn.Module):
    """Style-based generator: mapping MLP, constant input, AdaIN layers, style mixing and truncation."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        channels: int = 128,
        max_channels: int = 512,
        mixing_prob: float = 0.9,
        w_avg_beta: float = 0.995,
        blur: bool = False,
        output_tanh: bool = True,
    ) -> None:
        super().__init__()
        log2 = check_power_of_two("arch.generator.img_resolution", img_resolution, 16)
        check_number("arch.generator.mixing_prob", mixing_prob, 0, 1)
        check_number("arch.generator.mapping_lr_multiplier", mapping_lr_multiplier, 0, above=True)
        check_number("arch.generator.w_avg_beta", w_avg_beta, 0, 1)
        check_sizes("generator", w_dim=w_dim, mapping_layers=mapping_layers, channels=channels, max_channels=max_channels)
        self.z_dim, self.c_dim = z_dim, check_c_dim("generator", c_dim)
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.mixing_prob, self.w_avg_beta, self.output_tanh = mixing_prob, w_avg_beta, output_tanh
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, mapping_layers, mapping_lr_multiplier)
        hidden = widths(channels, max_channels, log2 - 1)  # at 4x4, 8x8, ..., R x R
        self.const = nn.Parameter(torch.ones(1, hidden[0], 4, 4))
        layers = [StyleLayer(hidden[0], hidden[0], w_dim, conv=False), StyleLayer(hidden[0], hidden[0], w_dim)]
        for a, b in zip(hidden, hidden[1:]):
            layers += [StyleLayer(a, b, w_dim, up=True, blur=blur), StyleLayer(b, b, w_dim)]
        self.layers = nn.ModuleList(layers)
        self.num_ws = len(layers)  # 2 per resolution
        self.to_rgb = EqualizedConv2d(hidden[-1], img_channels, 1, gain=1.0)
        self.register_buffer("w_avg", torch.zeros(w_dim))  # tracked in training, the centre of truncation

    def styles(self, z: Tensor, c: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """The per-layer w's [N, num_ws, w_dim]: mapped, w_avg tracked (training), mixed (training), truncated."""
        w = self.mapping(z, c)
        if self.training:  # w is bf16 under autocast; the buffer stays float32
            self.w_avg.copy_(w.detach().mean(dim=0).to(self.w_avg.dtype).lerp(self.w_avg, self.w_avg_beta))
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if self.training and self.mixing_prob > 0 and torch.rand(()) < self.mixing_prob:
            cutoff = int(torch.randint(1, self.num_ws, ()))
            ws = mix_styles(ws, self.mapping(torch.randn_like(z), c), cutoff)
        if truncation is not None:  # psi = 1: no change; psi = 0: every sample is the mean w
            ws = self.w_avg.to(ws.dtype).lerp(ws, truncation)
        return ws

    def synthesis(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """Images [N, C, R, R] in [-1, 1] from per-layer styles ws [N, num_ws, w_dim]; `noise`: one map
        [N, 1, r, r] per layer (drawn when None)."""
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noise is None else noise[i])
        x = self.to_rgb(x)
        return torch.tanh(x) if self.output_tanh else x

    def forward(self, z: Tensor, c: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """Map z [N, z_dim] (and labels c [N]) to images; `truncation` is psi toward w_avg (sampling only)."""
        check_labels(self.c_dim, c)
        return self.synthesis(self.styles(z, c, truncation))


__all__ = ["Generator", "Discriminator", "MappingNetwork", "StyleLayer", "adain", "mix_styles"]
