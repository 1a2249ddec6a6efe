"""SELF-MOD: Chen, Lucic, Houlsby and Gelly, "On Self Modulation for Generative Adversarial Networks",
ICLR 2019 (arXiv:1810.01365), sec. 3 (eq. 2-3) and appendix (the ResNet of Table 7, as in compare_gan).

Every BN of G becomes x_hat * (1 + gamma(z)) + beta(z), with gamma and beta each a 2-layer MLP
W2 relu(W1 z + b1) + b2 whose hidden width is `hidden` (the paper's official code: 32 is enough).
With labels, the MLPs read z' = z + E(c) + E'(c) * z (E, E' class embeddings of size z_dim), the form the
seed (kexue.fm/archives/6549) writes down. The body and the D are the ResNet of nets/resnet.py.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets import resnet
from gan_lightning.nets.blocks import ConditionalBatchNorm2d, Modulation
from gan_lightning.nets.resnet import Discriminator  # SELF-MOD changes G only


class Generator(resnet.Generator):
    """Residual G whose every BN is modulated by z (and the labels, through z')."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, c_dim: int = 0, channels: int = 256,
                 max_channels: int = 256, hidden: int = 32, residual_scale: float = 1.0,
                 attention_resolution: int = 0, spectral: bool = False, init: str = "xavier",
                 upsample: str = "nearest", attention_form: str = "paper") -> None:
        if not isinstance(hidden, int) or hidden < 1:
            raise ConfigError(f"arch.generator.hidden={hidden!r} is not supported; accepted: an integer >= 1")
        self.hidden = hidden  # read by make_norm during the base constructor
        super().__init__(z_dim, img_resolution, img_channels, c_dim, channels, max_channels, residual_scale,
                         attention_resolution, spectral, init, upsample, attention_form)

    def setup_conditioning(self) -> int:
        if self.c_dim:
            self.embed_shift = nn.Embedding(self.c_dim, self.z_dim)  # E
            self.embed_scale = nn.Embedding(self.c_dim, self.z_dim)  # E'
        return self.z_dim

    def make_norm(self, channels: int) -> nn.Module:
        return ConditionalBatchNorm2d(channels, Modulation(channels, y_dim=self.z_dim, hidden=self.hidden))

    def make_out_norm(self, channels: int) -> nn.Module:
        return self.make_norm(channels)  # every BN of G is self-modulated

    def modulation_input(self, z: Tensor, c: Tensor | None) -> Tensor:
        """z' = z + E(c) + E'(c) * z with labels, z itself without. [N, z_dim]"""
        if not self.c_dim:
            return z
        return z + self.embed_shift(c) + self.embed_scale(c) * z

    def block_inputs(self, z: Tensor, c: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        y = self.modulation_input(z, c)
        return z, [y] * (self.num_blocks + 1)


__all__ = ["Generator", "Discriminator"]
