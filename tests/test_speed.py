"""The GPU path, tested on CPU: gradient penalties under a GradScaler, fp16/bf16 autocast, the speed-ups callback,
and the hot path's freedom from host syncs (seeding)."""
from functools import partial

import lightning as L
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.objectives.regularizers import R1, GradientPenalty
from gan_lightning.training.callbacks.speed import fused
from tests.test_module import fit


class TinyD(nn.Module):
    """Two linear layers of weight 1e-4: input gradients of 1e-8 per pixel, below fp16's resolution."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4, bias=False), nn.Linear(4, 1, bias=False)
        nn.init.constant_(self.a.weight, 1e-4)
        nn.init.constant_(self.b.weight, 1e-4)

    def forward(self, x, c=None):
        return self.b(self.a(x.flatten(1))).squeeze(1)


def test_scaled_input_gradient_survives_fp16_where_the_plain_one_is_flushed():
    D, x = TinyD(), torch.randn(3, 1, 2, 2)
    exact = R1(weight=1.0)(D, x, x)
    assert_close(exact, torch.tensor(0.5 * 4 * (4 * 1e-8) ** 2))  # grad = 4e-8 per pixel, 4 pixels
    plain, scaled = R1(weight=1.0), R1(weight=1.0)
    scaled.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    with torch.autocast("cpu", dtype=torch.float16):
        assert not torch.allclose(plain(D, x, x), exact, rtol=0.5, atol=0)  # fp16 subnormals: more than 50% off
        assert_close(scaled(D, x, x), exact, rtol=1e-2, atol=0)


def test_scaling_does_not_change_a_float32_penalty():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    plain, scaled = GradientPenalty(), GradientPenalty()
    scaled.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    torch.manual_seed(1)
    expected = plain(lambda x, c: D(x), real, fake)
    torch.manual_seed(1)
    assert_close(scaled(lambda x, c: D(x), real, fake), expected)


def test_fp16_training_hands_the_trainers_scaler_to_the_penalty(tiny_cfg):
    from lightning.pytorch.plugins.precision import MixedPrecision

    from gan_lightning.run.build import build

    # Lightning turns 16-mixed into bf16 on a CPU; the plugin of a GPU run, set by hand, runs fp16 autocast here
    datamodule, module, trainer = build(tiny_cfg("dcgan", "dataset.resolution=16", "regularizer=gp",
                                                 "total_kimg=0.016"))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    trainer.strategy.precision_plugin = MixedPrecision("16-mixed", "cpu", scaler)
    trainer.fit(module, datamodule=datamodule)
    assert module.regularizer.scaler is scaler and module.batches == 2
    assert torch.isfinite(trainer.callback_metrics["reg/gp"])


def test_bf16_autocast_on_cpu_trains_stylegan_with_r1(tiny_cfg):
    module, trainer = fit(tiny_cfg("stylegan", "dataset.resolution=16", "trainer.precision=bf16-mixed",
                                   "regularizer=r1", "total_kimg=0.008"))
    assert module.regularizer.scaler is None  # bf16 needs no scaler
    assert torch.isfinite(trainer.callback_metrics["reg/r1"]) and torch.isfinite(trainer.callback_metrics["loss/g"])


def test_speed_callback_makes_nets_channels_last_and_adam_fused(tiny_cfg):
    module, trainer = fit(tiny_cfg("dcgan", "dataset.resolution=16", "callbacks.speed.channels_last=true",
                                   "callbacks.speed.fused_optimizer=true", "total_kimg=0.008"))
    convs = [m.weight for m in module.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert all(opt.defaults["fused"] for opt in trainer.optimizers)


def test_fused_leaves_other_optimizers_and_explicit_choices_alone():
    assert fused(partial(torch.optim.Adam, lr=1e-3)).keywords == {"lr": 1e-3, "fused": True}
    assert fused(partial(torch.optim.Adam, foreach=False)).keywords == {"foreach": False}
    assert fused(partial(torch.optim.SGD, lr=0.1)).keywords == {"lr": 0.1}


def test_trainer_gpu_asks_for_mixed_precision(tiny_cfg):
    from omegaconf import OmegaConf

    cfg = tiny_cfg("dcgan", "trainer=gpu")
    expected = "16-mixed" if torch.cuda.is_available() and not torch.cuda.is_bf16_supported(False) else "bf16-mixed"
    assert OmegaConf.to_container(cfg.trainer, resolve=True)["precision"] == expected


def test_the_training_step_seeds_no_lazy_backend(tiny_cfg, monkeypatch):
    from gan_lightning.run.build import build
    from gan_lightning.training.module import seed_rngs

    datamodule, module, trainer = build(tiny_cfg("mlp", "dataset=ring", "total_kimg=0.016", "metrics=none",
                                                 "~callbacks.preview"))  # previews seed a forked RNG: not per batch
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(seed))
    seed_rngs(5, torch.device("cpu"))
    assert torch.initial_seed() == 5
    trainer.fit(module, datamodule=datamodule)
    assert module.batches == 2 and calls == []  # torch.manual_seed would queue CUDA seeding (a stack capture) per batch


class BackwardHook(L.Callback):
    """A callback on the backward: it makes the module take Lightning's manual_backward, and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls += 1


def test_the_plain_backward_is_taken_only_where_lightning_would_add_nothing(tiny_cfg):
    from gan_lightning.run.build import build
    from gan_lightning.training.callbacks.speed import plain_backward

    overrides = ("mlp", "dataset=ring", "total_kimg=0.024", "metrics=none", "regularizer=r1")
    runs = {}
    for hooked in (False, True):
        torch.manual_seed(0)
        datamodule, module, trainer = build(tiny_cfg(*overrides))
        hook = BackwardHook()
        if hooked:
            trainer.callbacks.append(hook)
        trainer.fit(module, datamodule=datamodule)
        runs[hooked] = module
        assert module.plain_backward is not hooked and hook.calls == (6 if hooked else 0)  # 3 batches: D and G
    # the same weights either way: the plain path is Lightning's minus the hook calls
    for (name, plain), hooked in zip(runs[False].state_dict().items(), runs[True].state_dict().values()):
        assert torch.equal(plain, hooked), name
    # DDP prepares its gradient reduction in the backward: Lightning's path
    datamodule, module, trainer = build(tiny_cfg(*overrides, "trainer=ddp_cpu"))
    trainer.strategy.connect(module)
    assert not plain_backward(trainer)
