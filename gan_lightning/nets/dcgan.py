"""DCGAN: Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434).

The paper's rules: strided (transposed) convolutions instead of pooling, BatchNorm in G and D except G's
output and D's input layer, ReLU in G with tanh at the output, LeakyReLU(0.2) in D, weights N(0, 0.02).
At img_resolution=64 with channels=64, G is z -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> Cx64x64.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_lightning.nets.checks import (
    apply_spectral,
    check_conv_net,
    check_sizes,
    widths,
)
from gan_lightning.nets.convnets import down_block, init_dcgan_, up_block


class Generator(nn.Module):
    """DCGAN generator: z projected to 4x4, then 4x4 stride-2 transposed convs that halve the width."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channels: int = 64,
        max_channels: int = 512,
    ) -> None:
        super().__init__()
        log2 = check_conv_net("generator", "dcgan", img_resolution, c_dim)
        check_sizes("generator", channels=channels, max_channels=max_channels)
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        hidden = widths(channels, max_channels, log2 - 2)  # at 4x4, 8x8, ..., R/2 x R/2
        layers = [up_block(z_dim, hidden[0], stride=1, padding=0)]  # [N, z, 1, 1] -> [N, hidden[0], 4, 4]
        layers += [up_block(a, b) for a, b in zip(hidden, hidden[1:])]
        layers += [nn.ConvTranspose2d(hidden[-1], img_channels, 4, 2, 1), nn.Tanh()]
        self.net = init_dcgan_(nn.Sequential(*layers))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Map z [N, z_dim] to images [N, C, R, R] in [-1, 1]; c is unused (unconditional)."""
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """DCGAN discriminator: 4x4 stride-2 convs that double the width down to 4x4, then a 4x4 conv to a logit."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        normalization: str = "batch",
        channels: int = 64,
        max_channels: int = 512,
    ) -> None:
        super().__init__()
        log2 = check_conv_net("discriminator", "dcgan", img_resolution, c_dim, normalization)
        check_sizes("discriminator", channels=channels, max_channels=max_channels)
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        hidden = widths(channels, max_channels, log2 - 2)[::-1]  # at R/2, R/4, ..., 4x4
        # no normalization on the input layer (the paper); spectral norm, if chosen, covers every conv
        layers = [down_block(img_channels, hidden[0], 4, 2, "none", 0.2)]
        layers += [down_block(a, b, 4, 2, normalization, 0.2) for a, b in zip(hidden, hidden[1:])]
        layers.append(nn.Conv2d(hidden[-1], 1, 4))  # 4x4 valid -> [N, 1, 1, 1]
        self.net = apply_spectral(init_dcgan_(nn.Sequential(*layers)), normalization)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """Map images [N, C, R, R] to raw logits [N]; c is unused (unconditional)."""
        return self.net(x).flatten()
