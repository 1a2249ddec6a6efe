"""ResNet GAN: Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018
(arXiv:1802.05957, appendix, Table 4 (CIFAR-10), Tables 5-6 (STL-10, ImageNet)); the class-conditional form of
Miyato and Koyama, "cGANs with Projection Discriminator", ICLR 2018 (arXiv:1802.05637); and compare_gan's
ResNet19 (Kurach et al., "The GAN Landscape", arXiv:1807.04720, Table 3a: 5 G blocks, 6 D blocks at 128x128).

G: z -> linear 4x4xW -> residual up-blocks (BN-ReLU-nearest x2-conv3x3-BN-ReLU-conv3x3, 1x1 shortcut) to R x R
   -> BN-ReLU-conv3x3-tanh. SNGAN's CIFAR-10 G is channels = max_channels = 256 (4.28M params at z_dim 128).
D: residual down-blocks (ReLU-conv3x3-ReLU-conv3x3-avgpool, the first without the leading ReLU) from R x R to
   `bottom_resolution`, then `extra_blocks` at that size -> ReLU -> global sum pool -> linear; SNGAN's CIFAR-10 D
   is 128 wide, down to 8x8, 2 extra blocks.
Labels: class-conditional BN in G (a gamma and beta per class), the projection term <embed(c), phi(x)> in D.
Options shared by the residual families: `residual_scale` (x + alpha * f(x), the seed's stabiliser),
`attention_resolution` (a SAGAN block after the block that outputs that size) and `attention_form` (the
paper's block or the official code's, nets/blocks.SelfAttention), `upsample` in G (nearest, as the SNGAN code;
bilinear, as Mimicry), spectral norm, init.
SELF-MOD and BigGAN subclass the Generator through three hooks: setup_conditioning, make_norm, block_inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gan_lightning.errors import ConfigError, check_choice, check_power_of_two
from gan_lightning.nets.blocks import (
    ATTENTION_FORMS,
    ConditionalBatchNorm2d,
    DBlock,
    GBlock,
    Modulation,
    SelfAttention,
    init_residual_,
    truncate_z,
)
from gan_lightning.nets.checks import (
    apply_spectral,
    check_c_dim,
    check_labels,
    check_normalization,
    check_sizes,
    maybe_spectral,
    widths,
)
from gan_lightning.nets.eqlr import MinibatchStddev


def attention_layers(role: str, resolution: int, sizes: list[int], channels: list[int],
                     form: str = "paper") -> nn.ModuleList:
    """A SelfAttention after the (first) block whose output is `resolution` (0: none), Identity elsewhere."""
    check_choice(f"arch.{role}.attention_form", form, ATTENTION_FORMS)
    if resolution and resolution not in sizes:
        raise ConfigError(f"arch.{role}.attention_resolution={resolution!r} is not supported at this image size; "
                          f"accepted: 0 (none) or a block output size, {sorted(set(sizes))}")
    first = sizes.index(resolution) if resolution else -1
    return nn.ModuleList(SelfAttention(ch, form) if i == first else nn.Identity() for i, ch in enumerate(channels))


class Generator(nn.Module):
    """Residual generator; class-conditional BN when c_dim > 0."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channels: int = 256,
        max_channels: int = 256,
        residual_scale: float = 1.0,
        attention_resolution: int = 0,
        spectral: bool = False,
        init: str = "xavier",
        upsample: str = "nearest",
        attention_form: str = "paper",
    ) -> None:
        super().__init__()
        log2 = check_power_of_two("arch.generator.img_resolution", img_resolution, 16)
        check_sizes("generator", channels=channels, max_channels=max_channels)
        self.z_dim, self.c_dim = z_dim, check_c_dim("generator", c_dim)
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.num_blocks = log2 - 2  # 4x4 -> 8x8 -> ... -> R x R
        hidden = widths(channels, max_channels, self.num_blocks + 1)  # at 4x4, 8x8, ..., R x R
        project_dim = self.setup_conditioning()
        self.project = nn.Linear(project_dim, 16 * hidden[0])
        self.blocks = nn.ModuleList(GBlock(a, b, self.make_norm, residual_scale, upsample)
                                    for a, b in zip(hidden, hidden[1:]))
        sizes = [4 << (i + 1) for i in range(self.num_blocks)]
        self.attention = attention_layers("generator", attention_resolution, sizes, hidden[1:], attention_form)
        self.out_norm = self.make_out_norm(hidden[-1])
        self.out = nn.Conv2d(hidden[-1], img_channels, 3, 1, 1)
        init_residual_(self, init)
        if spectral:  # SAGAN and BigGAN spectral-normalize G as well
            apply_spectral(self, "spectral")

    # --- hooks for the families built on this body --------------------------------------------------------

    def setup_conditioning(self) -> int:
        """Build the modules that turn (z, c) into block inputs; return the input size of the 4x4 projection."""
        return self.z_dim

    def make_norm(self, channels: int) -> nn.Module:
        """The BN of a residual block: per-class gamma and beta when conditional, else plain BN."""
        return ConditionalBatchNorm2d(channels, Modulation(channels, num_classes=self.c_dim) if self.c_dim else None)

    def make_out_norm(self, channels: int) -> nn.Module:
        """The BN before the output conv: unconditional, as in SNGAN and BigGAN."""
        return ConditionalBatchNorm2d(channels)

    def block_inputs(self, z: Tensor, c: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        """The projection's input and the conditioning input of each block's BNs and of the output BN."""
        return z, [c] * self.num_blocks + [None]

    # -------------------------------------------------------------------------------------------------------

    def forward(self, z: Tensor, c: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """Map z [N, z_dim] (and labels c [N]) to images [N, C, R, R] in [-1, 1].

        `truncation` (sampling only): z truncated to [-truncation, truncation], BigGAN's trick.
        """
        check_labels(self.c_dim, c)
        if truncation is not None:
            z = truncate_z(z, truncation)
        z0, ys = self.block_inputs(z, c)
        x = self.project(z0).view(len(z), -1, 4, 4)
        for block, attention, y in zip(self.blocks, self.attention, ys):
            x = attention(block(x, y))
        return torch.tanh(self.out(F.relu(self.out_norm(x, ys[-1]))))


class Discriminator(nn.Module):
    """Residual discriminator with global sum pooling; the projection term when c_dim > 0."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        normalization: str = "spectral",
        channels: int = 128,
        max_channels: int = 128,
        bottom_resolution: int = 8,
        extra_blocks: int = 2,
        residual_scale: float = 1.0,
        attention_resolution: int = 0,
        mbstd_group_size: int = 0,
        init: str = "xavier",
        attention_form: str = "paper",
    ) -> None:
        super().__init__()
        log2 = check_power_of_two("arch.discriminator.img_resolution", img_resolution, 16)
        bottom = check_power_of_two("arch.discriminator.bottom_resolution", bottom_resolution, 4)
        if bottom >= log2:
            raise ConfigError(f"arch.discriminator.bottom_resolution={bottom_resolution!r} is not supported at "
                              f"img_resolution={img_resolution}; accepted: a power of two from 4 to {img_resolution // 2}")
        check_normalization(normalization)
        check_sizes("discriminator", channels=channels, max_channels=max_channels)
        check_sizes("discriminator", 0, extra_blocks=extra_blocks, mbstd_group_size=mbstd_group_size)  # 0: none
        self.c_dim = check_c_dim("discriminator", c_dim)
        self.img_resolution, self.img_channels = img_resolution, img_channels
        downs = log2 - bottom
        hidden = [min(channels << i, max_channels) for i in range(downs)] + [min(channels << (downs - 1), max_channels)] * extra_blocks
        blocks = [DBlock(img_channels, hidden[0], down=True, first=True, residual_scale=residual_scale)]
        blocks += [DBlock(a, b, down=i + 1 < downs, normalization=normalization, residual_scale=residual_scale)
                   for i, (a, b) in enumerate(zip(hidden, hidden[1:]))]
        self.blocks = nn.ModuleList(blocks)
        sizes = [max(img_resolution >> (i + 1), bottom_resolution) for i in range(len(hidden))]
        self.attention = attention_layers("discriminator", attention_resolution, sizes, hidden, attention_form)
        width = hidden[-1]
        # StyleGAN's D ends with minibatch stddev and a 3x3 conv at the bottom resolution
        self.mbstd = (nn.Sequential(MinibatchStddev(mbstd_group_size), nn.Conv2d(width + 1, width, 3, 1, 1))
                      if mbstd_group_size else nn.Identity())
        self.linear = nn.Linear(width, 1)
        self.embed = nn.Embedding(c_dim, width) if c_dim else None  # the projection's class embedding
        init_residual_(self, init)
        apply_spectral(self, normalization)
        if self.embed is not None:
            maybe_spectral(self.embed, normalization)  # SNGAN's SNEmbedID

    def features(self, x: Tensor) -> Tensor:
        """phi(x): the blocks, ReLU and global sum pooling. [N, C, R, R] -> [N, width]"""
        for block, attention in zip(self.blocks, self.attention):
            x = attention(block(x))
        return F.relu(self.mbstd(x)).sum(dim=(2, 3))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """Raw logits [N]: linear(phi(x)), plus <embed(c), phi(x)> for conditional nets."""
        check_labels(self.c_dim, c)
        h = self.features(x)
        logits = self.linear(h).squeeze(1)
        if self.embed is not None:
            logits = logits + (self.embed(c) * h).sum(dim=1)
        return logits
