"""Penalties on G: each is a regularizer whose `generator_penalty` joins the G loss (or, when lazy, is a G step
of its own every `generator_interval` G steps), and which gives D the penalty of the regularizer it wraps.

SinGAN's reconstruction loss; StyleGAN2's path length regularization (Karras et al. 2020, "Analyzing and
Improving the Image Quality of StyleGAN", sec. 5 and appendix B; stylegan2-ada-pytorch `training/loss.py`,
the "Gpl" phase).
"""
import math

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_number
from gan_lightning.objectives.regularizers import NoRegularizer, Regularizer


class GeneratorPenalty(Regularizer):
    """A penalty on G (`generator_penalty`, subclasses) that gives D the penalty of the regularizer it wraps."""

    def __init__(self, discriminator_penalty: Regularizer | None = None) -> None:
        discriminator_penalty = discriminator_penalty if discriminator_penalty is not None else NoRegularizer()
        super().__init__(weight=discriminator_penalty.weight, interval=discriminator_penalty.interval)
        self.discriminator_penalty = discriminator_penalty

    @property
    def name(self) -> str:
        return self.discriminator_penalty.name

    def adjust_optimizer(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        return self.discriminator_penalty.adjust_optimizer(optimizer)

    def forward(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None = None,
                real_logits: Tensor | None = None) -> Tensor:
        return self.discriminator_penalty(discriminator, real, fake, c, real_logits)

    def after_d_step(self, discriminator: nn.Module) -> None:
        self.discriminator_penalty.after_d_step(discriminator)


class Reconstruction(GeneratorPenalty):
    """SinGAN's reconstruction loss (Shaham et al. 2019, sec. 2.2): weight * ||G(z_rec) - x||^2 (the mean over
    pixels, as the official code's MSE) added to the G loss; `generator.reconstruct()` gives G(z_rec), the
    batch gives x. D gets the penalty of the regularizer it wraps (WGAN-GP for SinGAN)."""

    generator_name = "rec"
    config_key = "reconstruction"

    def __init__(self, discriminator_penalty: Regularizer, weight: float = 10.0) -> None:
        super().__init__(discriminator_penalty)
        self.reconstruction_weight = check_number("regularizer.reconstruction.weight", weight, 0)

    def generator_penalty(self, generator: nn.Module, real: Tensor | None = None,
                          c: Tensor | None = None) -> Tensor | None:
        if self.reconstruction_weight == 0:
            return None
        if real is None or not callable(getattr(generator, "reconstruct", None)):
            raise ConfigError(f"regularizer=reconstruction needs the reals and a generator with reconstruct() "
                              f"(arch=singan); got {type(generator).__name__}")
        reconstruction = generator.reconstruct()  # [1, C, H, W]
        return self.reconstruction_weight * (reconstruction - real).square().mean()


class PathLength(GeneratorPenalty):
    """StyleGAN2's path length regularization: weight * E[(||J_w^T y||_2 - a)^2], y ~ N(0, I) / sqrt(H W), the
    norm per sample of d sum(G(w) * y) / dw averaged over the w's as sqrt(mean_w sum_dims(.^2)), a the running
    mean of the norms (an exponential average with `decay`, in a buffer so checkpoints carry it).

    On batch // `batch_shrink` fresh z's through `generator.styles` (mixing included) and `.synthesis`; lazy:
    every `generator_interval` G steps a G step of its own, scaled by the interval, with G's Adam adjusted as
    for lazy R1. The reference's defaults: weight 2, every 4, decay 0.01, shrink 2; D: R1 (`discriminator_penalty`).
    """

    generator_name = "pl"
    config_key = "path_length"

    def __init__(self, discriminator_penalty: Regularizer | None = None, generator_weight: float = 2.0,
                 generator_interval: int = 4, decay: float = 0.01, batch_shrink: int = 2) -> None:
        super().__init__(discriminator_penalty)
        self.generator_weight = check_number("regularizer.path_length.generator_weight", generator_weight, 0)
        interval = check_number("regularizer.path_length.generator_interval", generator_interval, 1, integer=True)
        self.generator_interval = interval if generator_weight else 1  # off: nothing lazy to adjust G's Adam for
        self.decay = check_number("regularizer.path_length.decay", decay, 0, 1)
        self.batch_shrink = check_number("regularizer.path_length.batch_shrink", batch_shrink, 1, integer=True)
        self.register_buffer("pl_mean", torch.zeros(()))

    def generator_penalty(self, generator: nn.Module, real: Tensor | None = None,
                          c: Tensor | None = None) -> Tensor | None:
        if self.generator_weight == 0:
            return None
        if real is None or not all(callable(getattr(generator, f, None)) for f in ("styles", "synthesis")):
            raise ConfigError(f"regularizer=path_length needs the reals and a style-based generator with styles() "
                              f"and synthesis() (arch=stylegan2, stylegan); got {type(generator).__name__}")
        n = max(real.shape[0] // self.batch_shrink, 1)
        ws = generator.styles(torch.randn(n, generator.z_dim, device=real.device), None if c is None else c[:n])
        img = generator.synthesis(ws)
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)  # [n, num_ws, w_dim]
        lengths = grad.float().square().sum(2).mean(1).sqrt()  # [n]
        mean = self.pl_mean.lerp(lengths.mean(), self.decay)  # not detached, as the reference
        self.pl_mean.copy_(mean.detach())
        return (lengths - mean).square().mean() * (self.generator_weight * self.generator_interval)
