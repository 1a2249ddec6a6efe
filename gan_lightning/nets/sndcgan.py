"""SNDCGAN: the "standard CNN" of Miyato et al., "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018 (arXiv:1802.05957, Table 3), as used by compare_gan (Kurach et al. 2019).

At img_resolution=32 with channels=64:
G: z -> linear 4x4x512, BN, ReLU -> deconv 4x4 s2 256 -> 128 -> 64 (BN, ReLU each) -> conv 3x3 s1 C, tanh.
D: conv3x3 s1 64; conv4x4 s2 64; conv3x3 s1 128; conv4x4 s2 128; conv3x3 s1 256; conv4x4 s2 256;
   conv3x3 s1 512 (LeakyReLU 0.1 after each) -> linear to one logit.
Other powers of two change the number of stride-2 stages (log2(R) - 2); widths double per stage up to
channels * 8. compare_gan's D widens on the stride-2 convs (64, 128, 128, 256, 256, 512, 512); we follow
the paper's Table 3, which widens on the 3x3 ones.
Two options name where PyTorch-StudioGAN's `deep_conv` reads Table 3 differently from the SNGAN code:
`project_norm=false` drops the BatchNorm and ReLU after G's dense layer (Table 3 lists none), and
`head=sum` sums D's last features over positions before a width-sized dense layer instead of flattening.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_lightning.errors import check_choice
from gan_lightning.nets.checks import (
    apply_spectral,
    check_conv_net,
    check_sizes,
    widths,
)
from gan_lightning.nets.convnets import down_block, init_dcgan_, up_block


class SumPool(nn.Module):
    """Global sum pooling: [N, C, H, W] -> [N, C]."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3))


class Generator(nn.Module):
    """SNDCGAN generator: linear to 4x4, 4x4 stride-2 transposed convs, a 3x3 conv to the image."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, c_dim: int = 0, channels: int = 64,
                 project_norm: bool = True) -> None:
        super().__init__()
        log2 = check_conv_net("generator", "sndcgan", img_resolution, c_dim)
        check_sizes("generator", channels=channels)
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        hidden = widths(channels, channels * 8, log2 - 1)  # at 4x4, 8x8, ..., R x R
        # BatchNorm over the flat 4*4*width features, as compare_gan and the SNGAN code; it removes the bias
        self.project = nn.Sequential(
            nn.Linear(z_dim, 16 * hidden[0], bias=False), nn.BatchNorm1d(16 * hidden[0]), nn.ReLU()
        ) if project_norm else nn.Sequential(nn.Linear(z_dim, 16 * hidden[0]))
        self.net = nn.Sequential(
            *[up_block(a, b) for a, b in zip(hidden, hidden[1:])],
            nn.Conv2d(hidden[-1], img_channels, 3, 1, 1),
            nn.Tanh(),
        )
        init_dcgan_(self)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Map z [N, z_dim] to images [N, C, R, R] in [-1, 1]; c is unused (unconditional)."""
        return self.net(self.project(z).view(len(z), -1, 4, 4))


class Discriminator(nn.Module):
    """SNDCGAN discriminator: a 3x3 conv, then per stage a 4x4 stride-2 and a 3x3 conv, then a linear logit."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        normalization: str = "spectral",
        channels: int = 64,
        head: str = "flatten",
    ) -> None:
        super().__init__()
        log2 = check_conv_net("discriminator", "sndcgan", img_resolution, c_dim, normalization)
        check_sizes("discriminator", channels=channels)
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        hidden = widths(channels, channels * 8, log2 - 1)[::-1]  # at R x R, R/2, ..., 4x4
        # no normalization on the input layer, as DCGAN; spectral norm, if chosen, covers every layer
        layers = [down_block(img_channels, hidden[0], 3, 1, "none", 0.1)]
        for a, b in zip(hidden, hidden[1:]):
            layers += [down_block(a, a, 4, 2, normalization, 0.1), down_block(a, b, 3, 1, normalization, 0.1)]
        check_choice("arch.discriminator.head", head, ("flatten", "sum"))
        layers += [nn.Flatten(), nn.Linear(16 * hidden[-1], 1)] if head == "flatten" else [SumPool(), nn.Linear(hidden[-1], 1)]
        self.net = apply_spectral(init_dcgan_(nn.Sequential(*layers)), normalization)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """Map images [N, C, R, R] to raw logits [N]; c is unused (unconditional)."""
        return self.net(x).squeeze(1)
