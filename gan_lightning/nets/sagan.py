"""SAGAN: Zhang, Goodfellow, Metaxas and Odena, "Self-Attention Generative Adversarial Networks", ICML 2019
(arXiv:1805.08318): sec. 4 (the self-attention block, gate gamma initialised at 0), sec. 5 (spectral norm in
G and D, TTUR with lr_D = 4e-4, lr_G = 1e-4, Adam betas (0, 0.9), hinge loss), Table 1 (attention at feat32
/ feat64 does best).

The body is the ResNet of SNGAN (nets/resnet.py), conditional BN in G and the projection D when labelled;
the only architectural changes are the self-attention block (layers.SelfAttention) after the block whose
output has `attention_resolution` pixels a side, and spectral norm in G. The hinge loss and TTUR live in
conf/experiment/sagan_cifar10.yaml (losses and optimizers are separate config groups, so an arch file cannot
choose them without overriding a user's loss=... on the command line).
"""

from __future__ import annotations

from gan_lightning.nets import resnet


class Generator(resnet.Generator):
    """SNGAN's residual G with a self-attention block and spectral norm."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, c_dim: int = 0, channels: int = 256,
                 max_channels: int = 256, residual_scale: float = 1.0, attention_resolution: int = 32,
                 spectral: bool = True, init: str = "orthogonal", upsample: str = "nearest",
                 attention_form: str = "paper") -> None:
        super().__init__(z_dim, img_resolution, img_channels, c_dim, channels, max_channels, residual_scale,
                         attention_resolution, spectral, init, upsample, attention_form)


class Discriminator(resnet.Discriminator):
    """SNGAN's residual D with a self-attention block (spectral norm everywhere)."""

    def __init__(self, img_resolution: int, img_channels: int, c_dim: int = 0, normalization: str = "spectral",
                 channels: int = 128, max_channels: int = 128, bottom_resolution: int = 8, extra_blocks: int = 2,
                 residual_scale: float = 1.0, attention_resolution: int = 16, mbstd_group_size: int = 0,
                 init: str = "orthogonal", attention_form: str = "paper") -> None:
        super().__init__(img_resolution, img_channels, c_dim, normalization, channels, max_channels,
                         bottom_resolution, extra_blocks, residual_scale, attention_resolution, mbstd_group_size, init,
                         attention_form)
