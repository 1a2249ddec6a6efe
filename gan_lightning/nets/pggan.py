"""PGGAN: Karras, Aila, Laine and Lehtinen, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", ICLR 2018 (arXiv:1710.10196).

Follows Table 2 (the CelebA-HQ G and D: two 3x3 convs per resolution, the 4x4 blocks, 1x1 toRGB/fromRGB,
nearest upsampling and average pooling), sec. 3 and Figure 2 (fade-in of a new block), sec. 3 again
(minibatch standard deviation at the end of D), sec. 4.1 (equalized learning rate), sec. 4.2 (pixel norm
after every conv in G) and Appendix A.1 (z normalised onto the hypersphere, leaky ReLU 0.2, linear output,
no batch, layer or weight norm). The dense 4x4 layers use the official code's gains (sqrt(2)/4 for G's first
layer, 1 for the output layers).
Widths: min(channel_base // resolution, max_channels); channel_base 16384 and max 512 give Table 2
(512 up to 32x32, then halving: 256 at 64, 128 at 128, ..., 16 at 1024). Smaller values make CPU runs cheap.
Like the official code's `lod`, every block is built up front and `grow(resolution, alpha)` picks how many
run, so checkpoints always have the same keys and Adam keeps the state of existing layers. G always returns
full-size images (the current stage nearest-upsampled) and D always takes them (average-pooled to the current
stage), so nothing else in the framework needs to know the stage.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_power_of_two
from gan_lightning.nets.checks import check_sizes, check_unconditional
from gan_lightning.nets.eqlr import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    PixelNorm,
    downsample,
    upsample,
)


def check_net(role: str, img_resolution: int, c_dim: int, channel_base: int, max_channels: int) -> list[int]:
    """Validate the shared arguments; return the resolutions 4, 8, ..., img_resolution."""
    check_unconditional(role, "pggan", c_dim)
    log2 = check_power_of_two(f"arch.{role}.img_resolution", img_resolution, 8)
    for key, value, minimum in (("channel_base", channel_base, img_resolution), ("max_channels", max_channels, 1)):
        if not isinstance(value, int) or value < minimum:
            raise ConfigError(f"arch.{role}.{key}={value!r} is not supported; accepted: an integer >= {minimum}")
    return [2**k for k in range(2, log2 + 1)]


def lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2)


class Growing(nn.Module):
    """The stage of a progressive net: `resolution` and the fade-in `alpha` of its newest block.

    Kept as Python numbers (they decide which blocks run, and a device tensor would cost a host sync per
    call) and saved in the state dict as one extra-state tensor, so checkpoints hold the stage.
    """

    def init_stage(self, resolutions: list[int]) -> None:
        self.resolutions = resolutions
        self.resolution, self.alpha = resolutions[-1], 1.0  # the fully grown net until told otherwise

    def grow(self, resolution: int, alpha: float = 1.0) -> None:
        """Work at `resolution`, fading its block in with weight alpha in [0, 1] (1: stable)."""
        if resolution not in self.resolutions:
            raise ConfigError(f"resolution={resolution!r} is not supported by this {type(self).__name__}; "
                              f"accepted: {', '.join(map(str, self.resolutions))}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha={alpha!r} is not supported; accepted: 0 <= alpha <= 1")
        self.resolution, self.alpha = int(resolution), float(alpha)

    @property
    def level(self) -> int:
        """Index of the current resolution: 0 for 4x4."""
        return self.resolutions.index(self.resolution)

    @property
    def pooling(self) -> float:
        """Full-size pixels per side of one pixel at the current stage: img_resolution / resolution, doubled at
        alpha = 0 of a fade-in (the net is then the previous stage's) and interpolated geometrically in between."""
        return self.img_resolution / self.resolution * (2.0 ** (1.0 - self.alpha) if self.fading else 1.0)

    @property
    def fading(self) -> bool:
        """Whether the newest block is being faded in (the 4x4 block never is)."""
        return self.alpha < 1.0 and self.level > 0

    def get_extra_state(self) -> Tensor:
        return torch.tensor([self.resolution, self.alpha], dtype=torch.float64)

    def set_extra_state(self, state: Tensor) -> None:
        self.grow(int(state[0]), float(state[1]))


class GBlock(nn.Sequential):
    """Upsample x2, then two 3x3 convs, each followed by leaky ReLU and pixel norm."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            EqualizedConv2d(in_channels, out_channels, 3), lrelu(), PixelNorm(),
            EqualizedConv2d(out_channels, out_channels, 3), lrelu(), PixelNorm(),
        )


class Generator(Growing):
    """PGGAN generator: z -> 4x4 (dense + 3x3 conv), then a GBlock per doubling; toRGB at every resolution."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channel_base: int = 16384,
        max_channels: int = 512,
        normalize_latent: bool = True,
    ) -> None:
        super().__init__()
        resolutions = check_net("generator", img_resolution, c_dim, channel_base, max_channels)
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        width = {r: min(channel_base // r, max_channels) for r in resolutions}
        self.latent_norm = PixelNorm() if normalize_latent else nn.Identity()
        # the paper's "conv 4x4" on a 1x1 latent is a dense layer to 4x4 maps
        self.dense = EqualizedLinear(z_dim, width[4] * 16, gain=math.sqrt(2) / 4)
        self.first = nn.Sequential(lrelu(), PixelNorm(), EqualizedConv2d(width[4], width[4], 3), lrelu(), PixelNorm())
        self.blocks = nn.ModuleList([GBlock(width[r // 2], width[r]) for r in resolutions[1:]])  # to 8, 16, ...
        self.to_rgb = nn.ModuleList([EqualizedConv2d(width[r], img_channels, 1, gain=1.0) for r in resolutions])
        self.init_stage(resolutions)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Map z [N, z_dim] to images [N, C, R, R] (linear output, about [-1, 1]); c is unused."""
        x = self.dense(self.latent_norm(z)).reshape(z.shape[0], -1, 4, 4)
        x = previous = self.first(x)
        for block in self.blocks[: self.level]:
            previous, x = x, block(x)
        img = self.to_rgb[self.level](x)  # [N, C, r, r]
        if self.fading:  # Figure 2 (b): the new block as a residual of the upsampled previous output
            img = torch.lerp(upsample(self.to_rgb[self.level - 1](previous), 2), img, self.alpha)
        return upsample(img, self.img_resolution // self.resolution)


class DBlock(nn.Sequential):
    """Two 3x3 convs with leaky ReLU (the second changes the width), then average pooling x2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            EqualizedConv2d(in_channels, in_channels, 3), lrelu(),
            EqualizedConv2d(in_channels, out_channels, 3), lrelu(),
            nn.AvgPool2d(2),
        )


class Discriminator(Growing):
    """PGGAN discriminator: fromRGB at the current resolution, a DBlock per halving, then the 4x4 block.

    The 4x4 block: minibatch stddev, 3x3 conv, "conv 4x4" (a dense layer on the flattened 4x4 maps), dense to 1.
    `mbstd_unbiased=True` takes the unbiased variance in minibatch stddev, as pytorch_GAN_zoo does (the official
    code: biased); tests/test_parity_karras.py checks G and D against pytorch_GAN_zoo in that setting.
    """

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channel_base: int = 16384,
        max_channels: int = 512,
        mbstd_group_size: int = 4,
        mbstd_unbiased: bool = False,
    ) -> None:
        super().__init__()
        resolutions = check_net("discriminator", img_resolution, c_dim, channel_base, max_channels)
        check_sizes("discriminator", mbstd_group_size=mbstd_group_size)
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        width = {r: min(channel_base // r, max_channels) for r in resolutions}
        self.from_rgb = nn.ModuleList(
            [nn.Sequential(EqualizedConv2d(img_channels, width[r], 1), lrelu()) for r in resolutions]
        )
        self.blocks = nn.ModuleList([DBlock(width[r], width[r // 2]) for r in resolutions[1:]])  # from 8, 16, ...
        c4 = width[4]
        self.final = nn.Sequential(
            MinibatchStddev(mbstd_group_size, unbiased=mbstd_unbiased),
            EqualizedConv2d(c4 + 1, c4, 3), lrelu(),
            nn.Flatten(),
            EqualizedLinear(c4 * 16, c4), lrelu(),
            EqualizedLinear(c4, 1, gain=1.0),
        )
        self.init_stage(resolutions)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """Map images [N, C, R, R] to raw logits [N]; c is unused (unconditional)."""
        x = downsample(x, self.img_resolution // self.resolution)  # [N, C, r, r]
        h = self.from_rgb[self.level](x)
        if self.level > 0:
            h = self.blocks[self.level - 1](h)  # r -> r / 2
            if self.fading:  # mirror of G: blend with fromRGB of the half-resolution image
                h = torch.lerp(self.from_rgb[self.level - 1](downsample(x, 2)), h, self.alpha)
            for block in reversed(self.blocks[: self.level - 1]):
                h = block(h)
        return self.final(h).flatten()
