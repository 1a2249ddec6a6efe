"""Discriminator regularizers: objects that return a weighted penalty and say how often they run.

`reg(discriminator, real, fake, c)` returns `weight * interval * penalty`. With interval 1 the module adds it
to every D loss. With interval > 1 it is StyleGAN2's lazy regularisation (Karras et al. 2020, sec. 3.1 and
its code's "Dreg" phase): every `interval` batches the penalty, scaled up by the interval so its average
strength does not change, is a D optimizer step of its own, and D's Adam runs with lr * c and betas ** c,
c = interval / (interval + 1) (`adjust_optimizer`). `after_d_step` lets a regularizer act on D's weights
after the optimizer step (WGAN weight clipping); `generator_penalty` adds a term to the G loss (BigGAN's
orthogonal regularization, SinGAN's reconstruction loss).

Under fp16 mixed precision the gradient of D w.r.t. its input (the inner gradient of GP, DRAGAN, R1, R2)
underflows like any other gradient, so it is taken of the scaled logits and unscaled before the penalty
(the AMP docs' gradient-penalty recipe); the module hands its GradScaler to the regularizer (`scaler`).
"""
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gan_lightning.errors import ConfigError, check_number


class Regularizer(nn.Module):
    """Base class: subclasses implement `penalty` (unweighted); `name` is the log key, `reg/<name>`."""

    name = "reg"
    double_backward = False  # True for penalties on D's input gradient (torch.compile cannot run them)

    @property
    def key(self) -> str:
        """The config key of this penalty: `regularizer.<key>.weight` (conf/regularizer/<key>.yaml)."""
        return getattr(type(self), "config_key", None) or self.name

    def __init__(self, weight: float = 1.0, interval: int = 1) -> None:
        super().__init__()
        self.scaler: torch.amp.GradScaler | None = None  # fp16 training: set by the module
        self.weight = check_number(f"regularizer.{self.key}.weight", weight, 0)
        self.interval = check_number(f"regularizer.{self.key}.interval", interval, 1, integer=True)

    def is_due(self, d_step: int) -> bool:
        """Whether the penalty runs at this D step (0-based)."""
        return self.weight != 0 and d_step % self.interval == 0

    @property
    def lazy(self) -> bool:
        """Whether the penalty is a D optimizer step of its own (interval > 1) rather than part of the D loss."""
        return self.weight != 0 and self.interval > 1

    def adjust_optimizer(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Lazy regularisation: lr * c and every beta ** c, c = interval / (interval + 1), so that D's
        optimizer, stepped interval + 1 times per interval batches, keeps the momentum of every-batch steps."""
        if self.lazy:
            c = self.interval / (self.interval + 1)
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * c
                if "betas" in group:
                    group["betas"] = tuple(beta**c for beta in group["betas"])
        return optimizer

    def generator_penalty(self, generator: nn.Module, real: Tensor | None = None,
                          c: Tensor | None = None) -> Tensor | None:
        """A weighted penalty on G added to the G loss, or None (most regularizers act on D only)."""
        return None

    @property
    def generator_name(self) -> str:
        """The log key of the G penalty, `reg/<generator_name>`."""
        return f"{self.name}_g"

    def forward(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None = None,
                real_logits: Tensor | None = None) -> Tensor:
        """The weighted penalty, scaled by the interval for lazy regularisation (`real_logits`: D(real) of the
        loss's pass, for penalties on the logits)."""
        return self.penalty(discriminator, real, fake, c) * (self.weight * self.interval)

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        raise NotImplementedError

    def after_d_step(self, discriminator: nn.Module) -> None:
        """Hook after D's optimizer step; most regularizers do nothing here."""


class NoRegularizer(Regularizer):
    """No penalty: never due."""

    name = "none"

    def __init__(self) -> None:
        super().__init__(weight=0.0)


def input_gradient(discriminator: nn.Module, x: Tensor, c: Tensor | None,
                   scaler: torch.amp.GradScaler | None = None) -> Tensor:
    """d sum(D(x)) / dx, kept in the graph so the penalty can be backpropagated. [N, C, H, W]

    With an enabled `scaler` (fp16) the gradient is taken of the scaled mean of the logits, as the loss is
    scaled, and unscaled in float32 with the scale tensor (no host sync), so fp16 does not flush it to zero.
    An overflow gives inf, which reaches the loss: the scaler then skips the step and lowers its scale.
    """
    x = x.detach().requires_grad_(True)
    logits = discriminator(x, c)  # [N]
    if scaler is None or not scaler.is_enabled():
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        return grad
    # the mean, not the sum: at the initial scale 2**16 a sum's unit gradients would overflow fp16 at once
    (grad,) = torch.autograd.grad(scaler.scale(logits.float().mean()), x, create_graph=True)
    return grad.float() * (logits.shape[0] / scaler._get_scale_async())  # public get_scale() syncs


def _norms(grad: Tensor) -> Tensor:
    return grad.flatten(1).norm(2, dim=1)  # [N]


def interpolates(real: Tensor, fake: Tensor) -> Tensor:
    """eps * real + (1 - eps) * fake, eps ~ U[0, 1) per sample, detached from both. [N, ...]"""
    eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    fake = fake.detach().to(real.dtype)  # under mixed precision G's output may be half precision
    return torch.lerp(fake, real.detach(), eps)


class GradientPenalty(Regularizer):
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - target)^2] on random interpolates.

    `stage_resolution`: for a D with a `pooling` factor f (PGGAN's below its final stage), the norm w.r.t. the
    pooled image it sees, f times the full-size norm. The official PGGAN code uses the full-size norm, which
    asks for norm f at the stage's resolution; with short CPU schedules that collapsed MNIST (README).
    """

    name = "gp"
    double_backward = True

    def __init__(self, weight: float = 10.0, interval: int = 1, target: float = 1.0,
                 stage_resolution: bool = False) -> None:
        super().__init__(weight, interval)
        self.target = check_number(f"regularizer.{self.key}.target", target, 0)
        self.stage_resolution = stage_resolution

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        x_hat = interpolates(real, fake)
        norms = _norms(input_gradient(discriminator, x_hat, c, self.scaler))
        if self.stage_resolution:
            norms = norms * getattr(discriminator, "pooling", 1)
        return (norms - self.target).square().mean()


class PatchGradientPenalty(GradientPenalty):
    """SinGAN's WGAN-GP (the official code's): for a D that averages a score map of its input's size, the
    gradient of the map's sum, its norm per pixel (over channels), E over pixels of (norm - target)^2."""

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        x_hat = interpolates(real, fake)
        positions = x_hat.shape[-2] * x_hat.shape[-1]  # d sum(map) / dx = positions * d mean(map) / dx
        norms = (input_gradient(discriminator, x_hat, c, self.scaler) * positions).norm(dim=1)  # [N, H, W]
        return (norms - self.target).square().mean()


class DRAGAN(Regularizer):
    """DRAGAN (Kodali et al. 2017): the gradient penalty around perturbed real samples.

    x_p = x + 0.5 * std(x) * U[0, 1); x_hat = x + alpha * (x_p - x), alpha ~ U[0, 1) per sample.
    """

    name = "dragan"
    double_backward = True

    def __init__(self, weight: float = 10.0, interval: int = 1, target: float = 1.0) -> None:
        super().__init__(weight, interval)
        self.target = check_number(f"regularizer.{self.key}.target", target, 0)

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        real = real.detach()
        perturbed = real + 0.5 * real.std() * torch.rand_like(real)
        alpha = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
        x_hat = real + alpha * (perturbed - real)
        return (_norms(input_gradient(discriminator, x_hat, c, self.scaler)) - self.target).square().mean()


class R1(Regularizer):
    """R1 (Mescheder et al. 2018): (gamma / 2) E[||grad D(x_real)||^2]; `weight` is gamma."""

    name = "r1"
    double_backward = True

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        return 0.5 * input_gradient(discriminator, real, c, self.scaler).flatten(1).square().sum(1).mean()


class R2(Regularizer):
    """R2 (Mescheder et al. 2018): (gamma / 2) E[||grad D(x_fake)||^2]; `weight` is gamma."""

    name = "r2"
    double_backward = True

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        return 0.5 * input_gradient(discriminator, fake, c, self.scaler).flatten(1).square().sum(1).mean()


class L2(Regularizer):
    """L2 on D's weight tensors as compare_gan (the GAN Landscape's "L2"): mean over layers of ||W||^2 / 2.

    The mean (not the sum) over layers keeps the Landscape's published weights (0.0001 to 100) meaningful for
    any depth; biases and gains are excluded, as compare_gan penalises only `kernel` variables.
    """

    name = "l2"

    def __init__(self, weight: float = 1e-4, interval: int = 1) -> None:
        super().__init__(weight, interval)

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        weights = [p for p in discriminator.parameters() if p.dim() > 1 and p.requires_grad]
        return torch.stack([w.square().sum() / 2 for w in weights]).mean()  # tf.nn.l2_loss per layer, averaged


class WeightClipping(Regularizer):
    """WGAN weight clipping (Arjovsky et al. 2017): every D parameter clamped to [-clip, clip] after a step."""

    name = "clip"

    def __init__(self, clip: float = 0.01) -> None:
        super().__init__(weight=0.0)
        self.clip = check_number(f"regularizer.{self.key}.clip", clip, 0, above=True)

    @torch.no_grad()
    def after_d_step(self, discriminator: nn.Module) -> None:
        for p in discriminator.parameters():
            p.clamp_(-self.clip, self.clip)


def off_diagonal_gram(weight: Tensor) -> Tensor:
    """||W W^T (.) (1 - I)||_F^2 for W reshaped to [filters, fan_in]: how far the filters are from orthogonal."""
    w = weight.flatten(1)
    gram = w @ w.T
    return (gram - torch.diag_embed(torch.diagonal(gram))).square().sum()


def filter_weights(net: nn.Module) -> list[Tensor]:
    """The weight tensors of `net` with dim >= 2 (the raw weights under spectral norm), class embeddings excluded."""
    embeddings = {id(m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight)
                  for m in net.modules() if isinstance(m, nn.Embedding)}
    return [p for p in net.parameters() if p.dim() >= 2 and p.requires_grad and id(p) not in embeddings]


class Orthogonal(Regularizer):
    """BigGAN's orthogonal regularization (Brock et al. 2019, sec. 3.1, eq. 3): beta * sum over weights of
    ||W W^T (.) (1 - I)||_F^2, W a layer's filters [out, in * k * k]; class embeddings excluded.

    The paper applies it to G (`generator_weight`, beta = 1e-4), where it makes G amenable to truncation;
    `weight` applies it to D as well (0 by default).
    """

    name = "ortho"

    def __init__(self, generator_weight: float = 1e-4, weight: float = 0.0, interval: int = 1) -> None:
        super().__init__(weight, interval)
        self.generator_weight = check_number(f"regularizer.{self.key}.generator_weight", generator_weight, 0)

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        return torch.stack([off_diagonal_gram(w) for w in filter_weights(discriminator)]).sum()

    def generator_penalty(self, generator: nn.Module, real: Tensor | None = None,
                          c: Tensor | None = None) -> Tensor | None:
        if self.generator_weight == 0:
            return None
        return self.generator_weight * torch.stack([off_diagonal_gram(w) for w in filter_weights(generator)]).sum()


class Reconstruction(Regularizer):
    """SinGAN's reconstruction loss (Shaham et al. 2019, sec. 2.2): weight * ||G(z_rec) - x||^2 (the mean over
    pixels, as the official code's MSE) added to the G loss; `generator.reconstruct()` gives G(z_rec), the
    batch gives x. D gets the penalty of the regularizer it wraps (WGAN-GP for SinGAN)."""

    generator_name = "rec"
    config_key = "reconstruction"

    def __init__(self, discriminator_penalty: Regularizer, weight: float = 10.0) -> None:
        super().__init__(weight=discriminator_penalty.weight, interval=discriminator_penalty.interval)
        self.discriminator_penalty = discriminator_penalty
        self.reconstruction_weight = check_number("regularizer.reconstruction.weight", weight, 0)

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

    def generator_penalty(self, generator: nn.Module, real: Tensor | None = None,
                          c: Tensor | None = None) -> Tensor | None:
        if self.reconstruction_weight == 0:
            return None
        if real is None or not callable(getattr(generator, "reconstruct", None)):
            raise ConfigError(f"regularizer=reconstruction needs the reals and a generator with reconstruct() "
                              f"(arch=singan); got {type(generator).__name__}")
        reconstruction = generator.reconstruct()  # [1, C, H, W]
        return self.reconstruction_weight * (reconstruction - real).square().mean()
