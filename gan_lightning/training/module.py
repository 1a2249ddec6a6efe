"""The GAN LightningModule: the only place with training control flow.

Each batch runs one D step; every `n_critic` batches also one G step. Everything that varies between
GANs (nets, loss, regularizer) is a swappable object; this file never branches on their names.

The clock is `nimg`, real images shown to D over all ranks; `batches` counts D steps. Both are saved in
checkpoints and every schedule is a function of them. Randomness is stateless: each batch seeds the
global RNG from (seed, batch, rank), so a resumed run draws exactly what an uninterrupted one would.
"""
import copy
import inspect
import warnings
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import lightning as L
import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_choice, check_number
from gan_lightning.objectives.augment import Augmented
from gan_lightning.objectives.losses import GANLoss
from gan_lightning.objectives.penalties import Penalties
from gan_lightning.objectives.regularizers import Regularizer
from gan_lightning.training.callbacks.ema import standing_statistics
from gan_lightning.training.callbacks.speed import plain_backward
from gan_lightning.training.checkpoint_io import CHECKSUM, payload_sha256
from gan_lightning.training.divergence import check_finite
from gan_lightning.training.schedule import run_finished

# G_ema is in eval mode on purpose (it is never trained); Lightning warns about any eval-mode module.
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
# Lightning 2.6 with a recent torch warns about its own use of a deprecated pytree API.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")


def batch_seed(seed: int, batch: int, rank: int) -> int:
    """The RNG seed for one batch on one rank: a pure function of the clock."""
    return (seed * 1_000_003 + batch * 65_537 + rank) % (2**63 - 1)


def seed_rngs(seed: int, device: torch.device) -> None:
    """Seed the CPU generator and `device`'s. torch.manual_seed also queues a lazy seeding of every backend
    not started (CUDA, XPU, MTIA), each with a stack capture: about 1 ms a batch on a CPU."""
    torch.default_generator.manual_seed(seed)
    if device.type != "cpu":
        torch.get_device_module(device.type).manual_seed(seed)


def check_generator_options(net: nn.Module, options: dict) -> None:
    """A clear error for sampling options (e.g. truncation) that this generator's forward does not take."""
    accepted = [name for name in inspect.signature(net.forward).parameters if name not in ("z", "c")]
    for key, value in options.items():
        if key not in accepted:
            raise ConfigError(f"{key}={value!r} is not an option of {type(net).__module__}.{type(net).__name__}; "
                              f"accepted: {', '.join(accepted) or 'none'}")


class GAN(L.LightningModule):
    """Generator, discriminator, G_ema and the clock; D and G steps with manual optimisation."""

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: GANLoss,
        g_optimizer: partial,
        d_optimizer: partial,
        regularizer: Regularizer | Mapping[str, Regularizer] | None = None,
        n_critic: int = 1,
        total_kimg: float | None = None,
        total_g_steps: int | None = None,
        seed: int = 0,
        on_divergence: str = "stop",
        rollback_lr_factor: float = 0.5,
        max_rollbacks: int = 3,
        max_abs_logit: float | None = 1e6,
        max_abs_weight: float | None = 1e6,
        augment: nn.Module | None = None,
    ) -> None:
        super().__init__()
        check_choice("module.on_divergence", on_divergence, ("stop", "rollback"))
        self.on_divergence = on_divergence
        self.rollback_lr_factor = check_number("module.rollback_lr_factor", rollback_lr_factor, 0, 1, above=True)
        self.max_rollbacks = check_number("module.max_rollbacks", max_rollbacks, 0, integer=True)
        self.rollbacks = 0  # rollbacks done so far (saved in checkpoints)
        self.max_abs_logit = check_number("module.max_abs_logit", max_abs_logit, 0, above=True, nullable=True)
        self.max_abs_weight = check_number("module.max_abs_weight", max_abs_weight, 0, above=True, nullable=True)
        self.rollback_path: Path | None = None  # the last good checkpoint; set by callbacks.checkpoint
        self.n_critic = check_number("n_critic", n_critic, 1, integer=True)
        self.total_kimg = check_number("total_kimg", total_kimg, 0, above=True, nullable=True)
        self.total_g_steps = check_number("total_g_steps", total_g_steps, 1, integer=True, nullable=True)
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.G_ema = copy.deepcopy(generator).eval().requires_grad_(False)
        self.loss = loss
        self.regularizer = Penalties(regularizer)  # regularizer=[r1,r2]: each with its weight and interval
        self.augment = augment if augment is not None else nn.Identity()  # e.g. DiffAugment (augment=diffaugment)
        self.augmented_discriminator = Augmented(discriminator, self.augment)  # D(augment(x), c): what the steps use
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.seed = seed
        self.nimg = 0  # real images shown to D, all ranks together
        self.batches = 0  # D steps done
        self.batch_nimg = 0  # images the last batch added to nimg
        self.last_logs: dict[str, Tensor] = {}  # the last batch's scalars; callbacks.log.LogLosses logs them
        self.finite_check_every = 16  # batches between checks for NaN/inf losses (and before checkpoints)
        self.run_config: dict | None = None  # the resolved config of the run, saved in every checkpoint
        self.standing_batches = 16  # batches of z behind G_ema's batch-norm statistics (metrics, generate)
        self.ema_statistics_batches = 0  # batches behind G_ema's current batch-norm statistics; 0: stale
        self.plain_backward = False  # set at fit start: loss.backward() is all manual_backward would do

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location="cpu", **kwargs) -> "GAN":
        """The module of a checkpoint, rebuilt from the config stored in it (no arguments needed)."""
        from gan_lightning.training.checkpoint_io import load_module

        return load_module(checkpoint_path, map_location)

    @property
    def g_steps(self) -> int:
        """G steps done so far."""
        return self.batches // self.n_critic

    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    def sample_z(self, n: int) -> Tensor:
        return torch.randn(n, self.z_dim, device=self.device)

    def ema_generator(self, standing_batches: int | None = None) -> nn.Module:
        """G_ema ready to sample: in eval mode, its batch-norm statistics recomputed for its own weights from
        `standing_batches` batches of 64 z (default `self.standing_batches`; previews ask for fewer)."""
        batches = standing_batches or self.standing_batches
        if self.ema_statistics_batches < batches:
            generator = torch.Generator(device="cpu").manual_seed(self.seed)  # leaves the global RNG alone

            def inputs(n: int) -> tuple[Tensor, Tensor | None]:
                z = torch.randn(n, self.z_dim, generator=generator).to(self.device)
                c_dim = getattr(self.G_ema, "c_dim", 0)
                c = torch.randint(c_dim, (n,), generator=generator).to(self.device) if c_dim else None
                return z, c

            standing_statistics(self.G_ema, inputs, batches)
            self.ema_statistics_batches = batches
        return self.G_ema.eval()

    @torch.no_grad()
    def generate(self, n: int, c: Tensor | None = None, seed: int | None = None, ema: bool = True,
                 chunk: int = 256, **g_kwargs) -> Tensor:
        """`n` images in [-1, 1] from G_ema (or G), in chunks; `c` [n] labels for conditional nets.

        `seed` makes the draw reproducible without touching the global RNG; extra keyword arguments go to
        the generator (e.g. a truncation option of the nets that have one).
        """
        net = self.ema_generator() if ema else self.generator
        check_generator_options(net, g_kwargs)
        training = net.training
        net.eval()  # G's own running statistics; no update of them
        generator = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.z_dim, generator=generator).to(self.device)
        c = None if c is None else c.to(self.device)
        # nets that draw inside forward (StyleGAN's noise inputs) draw from a seeded copy of the global RNG
        cuda = [torch.cuda.current_device()] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            out = [net(z[i : i + chunk], None if c is None else c[i : i + chunk], **g_kwargs)
                   for i in range(0, n, chunk)]
        net.train(training)
        return torch.cat(out) if out else z.new_zeros(0)

    def configure_optimizers(self):
        d_optimizer = self.regularizer.adjust_optimizer(self.d_optimizer(self.discriminator.parameters()))
        return [self.regularizer.adjust_generator_optimizer(self.g_optimizer(self.generator.parameters())), d_optimizer]

    def on_fit_start(self) -> None:
        # fp16 (trainer.precision=16-mixed): penalties on D's input gradient scale it as the loss is scaled
        self.regularizer.scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        self.plain_backward = plain_backward(self.trainer)

    def manual_backward(self, loss: Tensor, *args, **kwargs) -> None:
        if self.plain_backward:
            loss.backward(*args, **kwargs)  # exactly what Lightning's path does here, without its hook dispatch
        else:
            super().manual_backward(loss, *args, **kwargs)

    def training_step(self, batch: tuple[Tensor, Tensor | None], batch_idx: int) -> None:
        real, c = batch  # [N, C, H, W] in [-1, 1]; c: [N] int64 or None
        seed_rngs(batch_seed(self.seed, self.batches, self.global_rank), real.device)
        opt_g, opt_d = self.optimizers()
        logs = self.discriminator_step(opt_d, real, c)
        if (self.batches + 1) % self.n_critic == 0:
            logs.update(self.generator_step(opt_g, real, c))
        self.batches += 1
        self.batch_nimg = real.shape[0] * self.trainer.world_size
        self.nimg += self.batch_nimg
        self.last_logs = {**self.last_logs, **logs}  # a lazy penalty or a G loss keeps its last value for the log
        if self.batches % self.finite_check_every == 1 or self.finite_check_every == 1:
            self.check_finite(weights=True)  # a host sync, so not on every batch

    def discriminator_step(self, opt: torch.optim.Optimizer, real: Tensor, c: Tensor | None) -> dict[str, Tensor]:
        """One D update: fakes made without grad; the penalty, when due, joins the loss, or is a step of its
        own after it for lazy regularizers (interval > 1, as StyleGAN2)."""
        D = self.augmented_discriminator
        with torch.no_grad():
            fake = self.generator(self.sample_z(real.shape[0]), c)
        real_logits = D(real, c)
        fake_logits = D(fake, c)
        loss = self.loss.d(real_logits, fake_logits)
        logs = {"loss/d": loss.detach()}
        eager, lazy = self.regularizer.due(self.batches)
        for reg in eager:
            penalty = reg(D, real, fake, c, real_logits)
            loss = loss + penalty
            logs[f"reg/{reg.name}"] = penalty.detach()
        self.d_update(opt, loss)
        # stateful losses update their state (BEGAN's k_t) from this step's outputs: those of every rank, so
        # the state stays equal on all ranks and what they log is the global batch's value
        outputs = (real_logits.detach(), fake_logits.detach())
        if self.loss.stateful and self.trainer.world_size > 1:
            outputs = tuple(self.all_gather(x).reshape(-1) for x in outputs)  # [world * N]
        logs.update(self.loss.after_d_step(*outputs))
        logs.update(D.after_d_step(real_logits.detach(), fake_logits.detach()))  # the augment's (ADA's p)
        if lazy:
            penalties = {f"reg/{reg.name}": reg(D, real, fake, c) for reg in lazy}
            self.d_update(opt, sum(penalties.values()))
            logs.update({key: penalty.detach() for key, penalty in penalties.items()})
        logs["logits/real"], logs["logits/fake"] = real_logits.detach().mean(), fake_logits.detach().mean()
        return logs

    def d_update(self, opt: torch.optim.Optimizer, loss: Tensor) -> None:
        """One optimizer step of D on `loss`, then the regularizer's hook (weight clipping)."""
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        self.regularizer.after_d_step(self.discriminator)

    def generator_step(self, opt: torch.optim.Optimizer, real: Tensor, c: Tensor | None) -> dict[str, Tensor]:
        """One G update through a frozen D. A G penalty (BigGAN's ortho, SinGAN's rec), when due, joins the loss,
        or is a G step of its own after it for lazy ones (generator_interval > 1, StyleGAN2's path length)."""
        self.toggle_optimizer(opt)  # D's parameters stop collecting gradients
        D = self.augmented_discriminator
        fake_logits = D(self.generator(self.sample_z(real.shape[0]), c), c)
        real_logits = None
        if self.loss.uses_real_in_g:
            with torch.no_grad():
                real_logits = D(real, c)
        loss = self.loss.g(fake_logits, real_logits)
        logs = {"loss/g": loss.detach()}
        for key, penalty in self.regularizer.generator_penalties(self.generator, real, c, self.g_steps).items():
            loss = loss + penalty  # BigGAN's ortho, SinGAN's reconstruction
            logs[key] = penalty.detach()
        self.g_update(opt, loss)
        if lazy := self.regularizer.generator_penalties(self.generator, real, c, self.g_steps, lazy=True):
            # StyleGAN2's path length: a G step of its own
            logs |= {key: penalty.detach() for key, penalty in lazy.items()}
            self.g_update(opt, sum(lazy.values()))
        self.untoggle_optimizer(opt)
        return logs

    def g_update(self, opt: torch.optim.Optimizer, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()

    # (weights=False): stop with one line, or roll back, on NaN/inf losses (weights) or values past their bounds
    check_finite = check_finite

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.finished():
            self.trainer.should_stop = True

    def finished(self) -> bool:
        """Whether the run length (in images or in G steps) is reached."""
        return run_finished(self.nimg, self.g_steps, self.total_kimg, self.total_g_steps)

    def total_batches(self, batch_nimg: int | None = None) -> int | None:
        """The run length in batches of `batch_nimg` images (default: the last batch's); None if open-ended."""
        batch_nimg = batch_nimg or self.batch_nimg
        limits = []
        if self.total_g_steps is not None:
            limits.append(self.total_g_steps * self.n_critic)
        if self.total_kimg is not None and batch_nimg:
            limits.append(-(-int(self.total_kimg * 1000) // batch_nimg))
        return min(limits) if limits else None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["clock"] = {"nimg": self.nimg, "batches": self.batches,
                               **({"rollbacks": self.rollbacks} if self.rollbacks else {})}
        checkpoint |= {"config": self.run_config} if self.run_config is not None else {}
        checkpoint[CHECKSUM] = payload_sha256(checkpoint["state_dict"])  # checked by every read (checkpoint_io.py)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        clock = checkpoint.get("clock", {"nimg": 0, "batches": 0})
        self.nimg, self.batches = int(clock["nimg"]), int(clock["batches"])
        self.rollbacks = int(clock.get("rollbacks", 0))
