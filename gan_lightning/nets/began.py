"""BEGAN: Berthelot, Schumm and Metz, "BEGAN: Boundary Equilibrium Generative Adversarial Networks", 2017
(arXiv:1703.10717), Figure 1 and section 3.5.

D is an auto-encoder. Encoder: a 3x3 conv to n channels, then per resolution two 3x3 convs and a stride-2
3x3 conv (sub-sampling) whose width grows linearly (n, 2n, 3n, ...), down to 8x8, then a linear map to the
embedding h. Decoder: a linear map from h to n x 8 x 8, then per resolution two 3x3 convs and a nearest
x2 up-sampling, and a 3x3 conv to the image. ELU after every conv but the last; no normalization. G has the
decoder's architecture with z in place of h. D's output is not a logit: it is each image's pixel-wise L1
reconstruction error (losses.BEGAN plays the game on it). At img_resolution=64 with channels=n:
encoder 64x64xn -> 32x32x2n -> 16x16x3n -> 8x8x4n -> h; decoder h -> 8x8xn -> 16 -> 32 -> 64x64xC.
As in the official code the output has no tanh (the reconstruction target is the image in [-1, 1]).
Options for other readings of Figure 1: `output_elu=True` puts an ELU on the last conv too, and the encoder's
`encoder_convs` (3x3 convs per resolution, the sub-sampling one included; 3 here) and `encoder_widen`
(`subsample`: the stride-2 conv widens, as here; `first`: the first conv of the next resolution does, as in
carpedm20's BEGAN-tensorflow). carpedm20/BEGAN-pytorch is `encoder_convs=2, encoder_widen=first,
output_elu=True`; tests/test_parity_karras.py checks G and D against it in that setting.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_lightning.errors import check_choice, check_number, check_power_of_two
from gan_lightning.nets.checks import check_unconditional


def conv_elu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    """A 3x3 conv (same padding, or halving with stride 2) and an ELU."""
    return [nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.ELU()]


def check_began(role: str, img_resolution: int, c_dim: int) -> int:
    """Validate the shared arguments (unconditional, resolution a power of two >= 8); return the block count."""
    check_unconditional(role, "began", c_dim)
    return check_power_of_two(f"arch.{role}.img_resolution", img_resolution, 8) - 2  # blocks at 8x8 ... R x R


class Decoder(nn.Module):
    """A vector [N, in_dim] -> n x 8 x 8 -> (two convs, nearest x2) per resolution -> image [N, C, R, R]."""

    def __init__(self, in_dim: int, img_resolution: int, img_channels: int, channels: int, blocks: int,
                 output_elu: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.fc = nn.Linear(in_dim, channels * 8 * 8)
        layers: list[nn.Module] = []
        for i in range(blocks):
            layers += conv_elu(channels, channels) + conv_elu(channels, channels)
            if i < blocks - 1:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers.append(nn.Conv2d(channels, img_channels, 3, 1, 1))
        self.net = nn.Sequential(*layers, *([nn.ELU()] if output_elu else []))

    def forward(self, h: Tensor) -> Tensor:
        return self.net(self.fc(h).view(-1, self.channels, 8, 8))


class Encoder(nn.Module):
    """An image [N, C, R, R] -> (convs, stride-2 conv) per resolution, widths n, 2n, ... -> [N, h].

    Each resolution but the last has `convs` convs, the last of them stride 2; the last resolution has two.
    widen: which conv raises the width, the stride-2 one ("subsample") or the next resolution's first ("first").
    """

    def __init__(self, img_channels: int, h_dim: int, channels: int, blocks: int, convs: int = 3,
                 widen: str = "subsample") -> None:
        super().__init__()
        layers, width = conv_elu(img_channels, channels), channels
        for i in range(blocks):
            for _ in range(2 if i == blocks - 1 else convs - 1):
                layers += conv_elu(width, channels * (i + 1))
                width = channels * (i + 1)
            if i < blocks - 1:
                out = channels * (i + 2) if widen == "subsample" else width
                layers += conv_elu(width, out, stride=2)
                width = out
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(channels * blocks * 8 * 8, h_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.net(x).flatten(1))


class Generator(nn.Module):
    """BEGAN generator: the decoder's architecture, fed with z."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channels: int = 64,
        output_elu: bool = False,
    ) -> None:
        super().__init__()
        blocks = check_began("generator", img_resolution, c_dim)
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.decoder = Decoder(z_dim, img_resolution, img_channels, channels, blocks, output_elu)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Map z [N, z_dim] to images [N, C, R, R] (about [-1, 1]; no tanh); c is unused (unconditional)."""
        return self.decoder(z)


class Discriminator(nn.Module):
    """BEGAN discriminator: an auto-encoder whose output is each image's mean absolute reconstruction error."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        channels: int = 64,
        h_dim: int = 64,
        output_elu: bool = False,
        encoder_convs: int = 3,
        encoder_widen: str = "subsample",
    ) -> None:
        super().__init__()
        blocks = check_began("discriminator", img_resolution, c_dim)
        check_number("arch.discriminator.encoder_convs", encoder_convs, 2, integer=True)
        check_choice("arch.discriminator.encoder_widen", encoder_widen, ("subsample", "first"))
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.encoder = Encoder(img_channels, h_dim, channels, blocks, encoder_convs, encoder_widen)
        self.decoder = Decoder(h_dim, img_resolution, img_channels, channels, blocks, output_elu)

    def reconstruct(self, x: Tensor) -> Tensor:
        """The auto-encoder's output for images [N, C, R, R]."""
        return self.decoder(self.encoder(x))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """L(x) = mean |x - D(x)| over pixels and channels, per image: [N] (eta = 1 in the paper's eq. 1)."""
        return (x - self.reconstruct(x)).abs().flatten(1).mean(1)
