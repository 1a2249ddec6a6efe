"""GAN losses as pure tensor math on discriminator logits.

A loss has `d(real_logits, fake_logits)` for the discriminator and `g(fake_logits, real_logits)` for the
generator, both returning a scalar to minimise. Logits are raw D outputs `[N]`. Losses whose generator
term needs D's opinion of real images (the relativistic ones) set `uses_real_in_g = True`, so the module
evaluates D on reals in the G step only for them.

A loss with training state (BEGAN's equilibrium variable k_t) keeps it in registered buffers, so it is
checkpointed and moved with the module, sets `stateful = True`, and updates it in
`after_d_step(real_logits, fake_logits)`, which the module calls after every D update with that step's
detached outputs (under DDP those of every rank, gathered: the state stays equal on all ranks); the hook
returns scalars to log.

PGGAN's drift term `drift * E[D(x)^2]` (Karras et al. 2018, sec. A.1) is an option of every loss.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import check_choice, check_number


class GANLoss(nn.Module):
    """Base class: subclasses implement `d_loss` and `g_loss`; `d` adds the drift term."""

    uses_real_in_g = False
    stateful = False  # True: after_d_step updates training state from the D outputs of every rank

    def __init__(self, drift: float = 0.0) -> None:
        super().__init__()
        self.drift = check_number("loss.drift", drift, 0)

    def d(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Discriminator loss to minimise (plus drift * E[D(x)^2] when drift > 0)."""
        loss = self.d_loss(real_logits, fake_logits)
        if self.drift:
            loss = loss + self.drift * real_logits.square().mean()
        return loss

    def g(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """Generator loss to minimise; `real_logits` is given only when `uses_real_in_g`."""
        return self.g_loss(fake_logits, real_logits)

    @torch.no_grad()
    def after_d_step(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """Update training state from the D step's outputs; returns scalars to log (none for stateless losses)."""
        return {}

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        raise NotImplementedError


class Minimax(GANLoss):
    """The original saturating game: D maximises log D(x) + log(1 - D(G(z))), G minimises log(1 - D(G(z)))."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        # log(1 - sigmoid(f)) = -softplus(f)
        return -F.softplus(fake_logits).mean()


class NonSaturating(Minimax):
    """Goodfellow's non-saturating G loss: G maximises log D(G(z))."""

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return F.softplus(-fake_logits).mean()


class Wasserstein(GANLoss):
    """WGAN critic loss E[D(fake)] - E[D(real)]; pair with clipping or a gradient penalty."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return -fake_logits.mean()


class LeastSquares(GANLoss):
    """LSGAN (Mao et al. 2017) with targets a (fake), b (real) for D and c for G; 0-1-1 by default."""

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0, drift: float = 0.0) -> None:
        super().__init__(drift)
        self.a, self.b, self.c = (check_number(f"loss.{k}", v) for k, v in (("a", a), ("b", b), ("c", c)))

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * ((real_logits - self.b).square().mean() + (fake_logits - self.a).square().mean())

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return 0.5 * (fake_logits - self.c).square().mean()


class Hinge(GANLoss):
    """Hinge loss (Lim & Ye 2017; SAGAN, BigGAN): D on max(0, 1 - r) + max(0, 1 + f), G on -E[D(fake)]."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return -fake_logits.mean()


class RelativisticStandard(GANLoss):
    """RSGAN (Jolicoeur-Martineau 2019): D(x_r, x_f) = sigmoid(C(x_r) - C(x_f)) on paired samples.

    Real i is paired with fake i. This is also R3GAN's RpGAN (Huang et al. 2024, eq. 2 with
    f(t) = -softplus(-t); brownvc/R3GAN `R3GAN/Trainer.py`): loss=rpgan is this class.
    """

    uses_real_in_g = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.softplus(-(real_logits - fake_logits)).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return F.softplus(-(fake_logits - real_logits)).mean()


# Relativistic-average outer functions: (loss for "up" that should be large, loss for "down" that should be small)
_RA_OUTER = {
    "standard": (lambda up: F.softplus(-up), lambda down: F.softplus(down)),
    "lsgan": (lambda up: (up - 1).square(), lambda down: (down + 1).square()),
    "hinge": (lambda up: F.relu(1 - up), lambda down: F.relu(1 + down)),
}


class RelativisticAverage(GANLoss):
    """Relativistic average GAN (RaSGAN, RaLSGAN, RaHinge): each sample judged against the other side's mean.

    `kind` picks the outer function: "standard" (logistic), "lsgan" or "hinge". `scale` multiplies both
    losses: 1 is the paper's sum of the two terms (Jolicoeur-Martineau 2019, eqs. for RaSGAN, RaLSGAN), 0.5
    the official code's mean of them (AlexiaJM/RelativisticGAN GAN_losses_iter.py, `/2`); it matters only
    against a regularizer's weight, since Adam ignores a constant factor.
    """

    uses_real_in_g = True
    kinds = tuple(_RA_OUTER)

    def __init__(self, kind: str = "standard", drift: float = 0.0, scale: float = 1.0) -> None:
        super().__init__(drift)
        check_choice("loss.kind", kind, self.kinds)
        self.kind = kind
        self.scale = check_number("loss.scale", scale, 0, above=True)
        self.outer_up, self.outer_down = _RA_OUTER[kind]

    def _pair(self, upper: Tensor, lower: Tensor) -> Tensor:
        """Loss for making `upper` look more real than the mean of `lower` and vice versa."""
        loss = self.outer_up(upper - lower.mean()).mean() + self.outer_down(lower - upper.mean()).mean()
        return loss * self.scale if self.scale != 1.0 else loss

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return self._pair(real_logits, fake_logits)

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return self._pair(fake_logits, real_logits)



class BEGAN(GANLoss):
    """BEGAN (Berthelot et al. 2017, eq. 4): D's outputs are reconstruction errors L(x) >= 0, not logits.

    D minimises L(real) - k_t * L(fake), G minimises L(fake); after each D step
    k_{t+1} = clip(k_t + lambda_k * (gamma * L(real) - L(fake)), 0, 1). The convergence measure
    M = L(real) + |gamma * L(real) - L(fake)| (sec. 3.4.1) is logged with k_t. Under DDP both use the means
    over every rank's batch (the module gathers the outputs), so k_t is the same on all ranks.
    """

    stateful = True

    def __init__(self, gamma: float = 0.5, lambda_k: float = 0.001, k_init: float = 0.0) -> None:
        super().__init__(drift=0.0)
        check_number("loss.gamma", gamma, 0.0, 1.0)
        check_number("loss.k_init", k_init, 0.0, 1.0)
        check_number("loss.lambda_k", lambda_k, 0.0)
        self.gamma, self.lambda_k = gamma, lambda_k
        self.register_buffer("k", torch.tensor(float(k_init)))  # k_t: checkpointed with the module

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return real_logits.mean() - self.k * fake_logits.mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        return fake_logits.mean()

    @torch.no_grad()
    def after_d_step(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """k_t moves towards the equilibrium E[L(fake)] = gamma * E[L(real)]; returns k_t and M."""
        real, fake = real_logits.float().mean(), fake_logits.float().mean()
        balance = self.gamma * real - fake
        self.k.copy_((self.k + self.lambda_k * balance).clamp(0.0, 1.0))
        return {"equilibrium/k": self.k.clone(), "equilibrium/convergence": real + balance.abs()}
