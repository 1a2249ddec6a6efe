"""StyleGAN2's residual discriminator: Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN" (CVPR, arXiv:1912.04958), Fig. 7c and appendix B, as stylegan2-ada-pytorch `training/networks.py`
builds it (DiscriminatorBlock with architecture='resnet', DiscriminatorEpilogue). Used by arch=stylegan and
arch=stylegan2.

From R x R down to 8 x 8, a block is: (at R only) 1x1 fromRGB; 3x3 conv; 3x3 conv with [1,3,3,1] FIR
downsampling; plus a 1x1 FIR-downsampled skip without bias, joined as sqrt(0.5) * (skip + main). At 4 x 4:
minibatch stddev (`mbstd_group_size`, `mbstd_num_channels`), 3x3 conv, FC, FC to 1 logit. Equalized learning
rate everywhere; leaky ReLU 0.2 with gain sqrt(2). Width at resolution r: min(channel_base // r, max_channels).
Labels (c_dim > 0): the last FC gives cmap_dim features, projected on an 8-layer mapping of one-hot c,
<out, cmap> / sqrt(cmap_dim) (the reference's cmap). `architecture='orig'` drops the skips (StyleGAN2-ADA's
cifar config). The output is a raw logit [N].
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gan_lightning.errors import (
    ConfigError,
    check_choice,
    check_number,
    check_power_of_two,
)
from gan_lightning.nets.checks import check_c_dim, check_labels, check_sizes
from gan_lightning.nets.eqlr import MinibatchStddev
from gan_lightning.nets.stylegan2_layers import (
    Conv2dLayer,
    FullyConnected,
    MappingNetwork,
)


def stylegan2_widths(channel_base: int, max_channels: int, resolutions: list[int]) -> dict[int, int]:
    """The width at each resolution: min(channel_base // r, max_channels), as StyleGAN2's channels_dict."""
    return {r: min(channel_base // r, max_channels) for r in resolutions}


class DiscriminatorBlock(nn.Module):
    """One resolution of D: (fromRGB,) conv, downsampling conv, and the residual skip (architecture resnet)."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 architecture: str = "resnet", conv_clamp: float | None = None) -> None:
        super().__init__()
        self.fromrgb = (Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
                        if in_channels == 0 else None)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2) if architecture == "resnet" else None

    def forward(self, x: Tensor | None, img: Tensor) -> Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(img)
        if self.skip is None:
            return self.conv1(self.conv0(x))
        y = self.skip(x, gain=math.sqrt(0.5))  # both branches scaled by sqrt(1/2): unit variance after the sum
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class DiscriminatorEpilogue(nn.Module):
    """4x4: minibatch stddev, 3x3 conv, FC, FC to 1 logit (or cmap_dim features projected on the mapped c)."""

    def __init__(self, in_channels: int, cmap_dim: int = 0, mbstd_group_size: int = 4, mbstd_num_channels: int = 1,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStddev(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                conv_clamp=conv_clamp)
        self.fc = FullyConnected(in_channels * 16, in_channels, activation="lrelu")
        self.out = FullyConnected(in_channels, cmap_dim or 1)

    def forward(self, x: Tensor, cmap: Tensor | None = None) -> Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))  # [N, 1] or [N, cmap_dim]
        if cmap is not None:
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x.squeeze(1)  # [N]


class Discriminator(nn.Module):
    """StyleGAN2's D: residual blocks from R x R to 8 x 8, then the 4 x 4 epilogue; logits [N]."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channel_base: int = 16384,
        max_channels: int = 512,
        architecture: str = "resnet",
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        cmap_dim: int | None = None,
        mapping_layers: int = 8,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        log2 = check_power_of_two("arch.discriminator.img_resolution", img_resolution, 8)
        check_choice("arch.discriminator.architecture", architecture, ("resnet", "orig"))
        check_sizes("discriminator", channel_base=channel_base, max_channels=max_channels,
                    mbstd_group_size=mbstd_group_size, mapping_layers=mapping_layers)
        check_sizes("discriminator", 0, mbstd_num_channels=mbstd_num_channels)
        check_number("arch.discriminator.conv_clamp", conv_clamp, 0, above=True, nullable=True)
        self.c_dim = check_c_dim("discriminator", c_dim)
        self.img_resolution, self.img_channels = img_resolution, img_channels
        resolutions = [2**i for i in range(log2, 2, -1)]  # R, R/2, ..., 8
        ch = stylegan2_widths(channel_base, max_channels, resolutions + [4])
        if min(ch.values()) < 1 or (mbstd_num_channels and ch[4] % mbstd_num_channels):
            raise ConfigError(f"arch.discriminator.channel_base={channel_base!r} is not supported with max_channels="
                              f"{max_channels} and mbstd_num_channels={mbstd_num_channels}; accepted: widths "
                              f"min(channel_base // r, max_channels) >= 1 at every r, that at 4x4 a multiple of "
                              f"mbstd_num_channels")
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(0 if r == img_resolution else ch[r], ch[r], ch[r // 2], img_channels, architecture,
                               conv_clamp) for r in resolutions)
        cmap_dim = (ch[4] if cmap_dim is None else cmap_dim) if c_dim else 0
        self.mapping = (MappingNetwork(0, c_dim, cmap_dim, mapping_layers, w_avg_beta=None) if c_dim else None)
        self.epilogue = DiscriminatorEpilogue(ch[4], cmap_dim, mbstd_group_size, mbstd_num_channels, conv_clamp)

    def forward(self, img: Tensor, c: Tensor | None = None) -> Tensor:
        """Raw logits [N] of images [N, C, R, R] (and labels c [N] for conditional nets)."""
        check_labels(self.c_dim, c)
        x = None
        for block in self.blocks:
            x = block(x, img)
        return self.epilogue(x, None if self.mapping is None else self.mapping(None, c))
