"""BigGAN: Brock, Donahue and Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
ICLR 2019 (arXiv:1809.11096): sec. 3 (shared class embedding, hierarchical latents, orthogonal
regularization, truncation trick), appendix B (Table 4: 128x128 widths ch * [16, 16, 8, 4, 2, 1] in G and
ch * [1, 2, 4, 8, 16, 16] in D with ch = 96, attention at 64x64); at 32x32 the widths of BigGAN-PyTorch's
CIFAR-10 model (4 * ch = 256 throughout), which conf/arch/biggan.yaml uses.

G: z is split into num_blocks + 1 chunks; the first goes through the linear projection to 4x4, and the BN of
every residual block takes [shared embedding(c), its chunk], through bias-free linear maps, as
x_hat * (1 + gain) + bias. Spectral norm and orthogonal init in G and D; the output BN is unconditional.
D: the SNGAN/SAGAN residual D (nets/resnet.py) with self-attention and the projection term.
Orthogonal regularization is `regularizer=ortho` (gan_lightning/objectives/regularizers.py), truncation is
`generate(..., truncation=t)` (z truncated to [-t, t]).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets import resnet
from gan_lightning.nets.blocks import ConditionalBatchNorm2d, Modulation


class Generator(resnet.Generator):
    """Residual G with hierarchical z and class-conditional BN fed by a shared class embedding."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, c_dim: int = 0, channels: int = 256,
                 max_channels: int = 256, shared_dim: int = 128, residual_scale: float = 1.0,
                 attention_resolution: int = 0, spectral: bool = True, init: str = "orthogonal",
                 upsample: str = "nearest", attention_form: str = "paper") -> None:
        if not isinstance(shared_dim, int) or shared_dim < 1:
            raise ConfigError(f"arch.generator.shared_dim={shared_dim!r} is not supported; accepted: an integer >= 1")
        self.shared_dim = shared_dim  # read by the base constructor's hooks
        super().__init__(z_dim, img_resolution, img_channels, c_dim, channels, max_channels, residual_scale,
                         attention_resolution, spectral, init, upsample, attention_form)

    def setup_conditioning(self) -> int:
        parts = self.num_blocks + 1
        if self.z_dim < parts:
            raise ConfigError(f"z_dim={self.z_dim!r} is too small for BigGAN's {parts} latent chunks at this "
                              f"resolution; accepted: an integer >= {parts}")
        # equal chunks (BigGAN-128 splits z_dim 120 into 6 of 20); a remainder goes to the projection's chunk
        size = self.z_dim // parts
        self.chunks = [self.z_dim - size * (parts - 1)] + [size] * (parts - 1)
        self.shared = nn.Embedding(self.c_dim, self.shared_dim) if self.c_dim else None
        self.y_dim = self.chunks[1] + (self.shared_dim if self.c_dim else 0)
        return self.chunks[0]

    def make_norm(self, channels: int) -> nn.Module:
        return ConditionalBatchNorm2d(channels, Modulation(channels, y_dim=self.y_dim))

    def block_inputs(self, z: Tensor, c: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        z0, *rest = z.split(self.chunks, dim=1)
        if self.shared is not None:
            embedding = self.shared(c)  # [N, shared_dim], one for all blocks
            rest = [torch.cat([embedding, zi], dim=1) for zi in rest]
        return z0, [*rest, None]


Discriminator = resnet.Discriminator  # the projection D; biggan.yaml sets attention and orthogonal init
