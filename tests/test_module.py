"""The training step: n_critic cadence, the clock, EMA, and a resumed run equal to an uninterrupted one."""
import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.objectives.losses import NonSaturating
from gan_lightning.run.build import build
from gan_lightning.training.callbacks.ema import ema_beta, ema_update
from gan_lightning.training.module import GAN


def fit(cfg, ckpt_path=None):
    datamodule, module, trainer = build(cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    return module, trainer


def adam_steps(optimizer) -> set[int]:
    return {int(state["step"]) for state in optimizer.state.values()}


@pytest.mark.parametrize("n_critic", [1, 3])
def test_n_critic_gives_the_expected_numbers_of_d_and_g_steps(tiny_cfg, n_critic):
    cfg = tiny_cfg("mlp", "dataset=ring", f"n_critic={n_critic}", "total_g_steps=4", "total_kimg=null")
    module, trainer = fit(cfg)
    opt_g, opt_d = trainer.optimizers
    assert module.batches == 4 * n_critic
    assert adam_steps(opt_d) == {4 * n_critic}
    assert adam_steps(opt_g) == {4}
    assert module.nimg == 4 * n_critic * 8  # batch_size=8, one process


def test_run_length_in_kimg_stops_at_the_first_batch_reaching_it(tiny_cfg):
    module, _ = fit(tiny_cfg("mlp", "dataset=ring", "total_kimg=0.1"))  # 100 images, batches of 8
    assert module.nimg == 104 and module.batches == 13


def test_relativistic_loss_and_lazy_regularizer_train(tiny_cfg):
    module, trainer = fit(tiny_cfg("mlp", "dataset=ring", "loss=ragan", "regularizer=r1",
                                   "regularizer.r1.interval=2", "total_kimg=0.032"))
    assert module.batches == 4
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["loss/d"]) and torch.isfinite(metrics["reg/r1"])


def test_wgangp_preset_sets_penalty_n_critic_and_adam_betas(tiny_cfg):
    cfg = tiny_cfg("mlp", "dataset=ring", "loss=wgangp")
    assert cfg.n_critic == 5 and cfg.regularizer._target_.endswith("GradientPenalty")
    assert list(cfg.optimizer.generator.betas) == [0.0, 0.9] and cfg.optimizer.discriminator.lr == 1e-4
    overridden = tiny_cfg("mlp", "dataset=ring", "loss=wgangp", "regularizer=r1", "n_critic=2")
    assert overridden.n_critic == 2 and overridden.regularizer._target_.endswith("R1")


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    from tests.conftest import compose, tiny

    common = tiny("dcgan", "dataset.resolution=16", "n_critic=2", "regularizer=r1", "regularizer.r1.interval=3",
                  "callbacks.ema.halflife_kimg=0.05", "callbacks.checkpoint.every_kimg=0")
    whole, _ = fit(compose([*common, "total_kimg=0.128"], tmp_path / "whole"))  # 16 batches
    fit(compose([*common, "total_kimg=0.064"], tmp_path / "first"))  # 8 batches, then last.ckpt
    ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    resumed, trainer = fit(compose([*common, "total_kimg=0.128"], tmp_path / "second"), ckpt_path=str(ckpt))
    assert (resumed.nimg, resumed.batches) == (whole.nimg, whole.batches) == (128, 16)
    expected, actual = whole.state_dict(), resumed.state_dict()
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    assert any(k.startswith("G_ema.") for k in expected)


def test_checkpoint_holds_the_clock_and_both_optimizers(tiny_cfg, tmp_path):
    fit(tiny_cfg("mlp", "dataset=ring", "total_kimg=0.024"))
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["clock"] == {"nimg": 24, "batches": 3}
    assert len(ckpt["optimizer_states"]) == 2
    assert any(k.startswith("G_ema.") for k in ckpt["state_dict"])


def test_ema_beta_from_half_life():
    assert ema_beta(64, halflife_kimg=0.064) == 0.5
    assert_close(ema_beta(32, halflife_kimg=0.064), math.sqrt(0.5))
    assert ema_beta(64, halflife_kimg=0) == 0.0
    assert ema_beta(64, halflife_kimg=math.inf) == 1.0
    assert ema_beta(64, halflife_kimg=10, nimg=1280, rampup=0.05) == 0.5  # half-life ramped to 64 images


def test_ema_with_beta_0_copies_and_with_beta_1_freezes():
    model, ema = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.running_mean.fill_(5.0)
    ema_update(ema, model, beta=1.0)
    assert_close(ema.weight, torch.ones(3))  # frozen parameters
    ema_update(ema, model, beta=0.0)
    assert_close(ema.weight, torch.full((3,), 2.0))
    assert_close(ema.running_mean, torch.full((3,), 5.0))  # buffers are copied
    ema.weight.data.fill_(0.0)
    ema_update(ema, model, beta=0.25)
    assert_close(ema.weight, torch.full((3,), 1.5))  # 0.25 * 0 + 0.75 * 2


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_n_critic_below_one_is_rejected_with_the_value(bad):
    with pytest.raises(ConfigError, match=f"n_critic={bad}"):
        GAN(nn.Linear(1, 1), nn.Linear(1, 1), NonSaturating(), torch.optim.Adam, torch.optim.Adam, n_critic=bad)


@pytest.mark.parametrize("regularizer", ["gp", "r2"])
def test_mixed_precision_trains_with_gradient_penalties(tiny_cfg, regularizer):
    module, trainer = fit(tiny_cfg("dcgan", "dataset.resolution=16", "trainer.precision=bf16-mixed",
                                   f"regularizer={regularizer}", "total_kimg=0.016"))
    assert module.batches == 2
    assert torch.isfinite(trainer.callback_metrics[f"reg/{regularizer}"])


def test_a_checkpoint_alone_rebuilds_the_module_with_its_weights(tiny_cfg, tmp_path):
    from gan_lightning.training.checkpoint_io import load_module

    trained, _ = fit(tiny_cfg("dcgan", "dataset.resolution=16", "z_dim=12", "total_kimg=0.016"))
    path = tmp_path / "checkpoints" / "last.ckpt"
    for loaded in (load_module(path), GAN.load_from_checkpoint(path)):
        assert loaded.z_dim == 12 and (loaded.nimg, loaded.batches) == (trained.nimg, trained.batches)
        assert loaded.run_config["z_dim"] == 12 and "hydra" not in loaded.run_config
        for key, value in trained.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
    images = loaded.generate(5, seed=3)
    assert images.shape == (5, 1, 16, 16) and images.abs().max() <= 1
    assert torch.equal(images, loaded.generate(5, seed=3))
    z = torch.randn(5, 12, generator=torch.Generator().manual_seed(3))
    assert_close(images, trained.ema_generator()(z))


def test_loading_a_file_that_is_not_a_safe_checkpoint_is_one_clear_error(tmp_path):
    from gan_lightning.training.checkpoint_io import load_module

    class Payload:
        def __reduce__(self):
            return (print, ("this code must not run",))

    text, pickle = tmp_path / "notes.txt", tmp_path / "evil.ckpt"
    text.write_text("not a checkpoint")
    torch.save({"state_dict": {}, "payload": Payload()}, pickle)
    for path, reason in ((text, "is not a gan_lightning checkpoint"), (pickle, "loads safely"),
                         (tmp_path / "missing.ckpt", "does not exist")):
        with pytest.raises(ConfigError, match=reason):
            load_module(path)


def test_lazy_regularizer_adjusts_d_adam_lr_and_betas():
    from gan_lightning.objectives.regularizers import R1

    module = GAN(nn.Linear(1, 1), nn.Linear(1, 1), NonSaturating(),
                 lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.5, 0.99)),
                 lambda p: torch.optim.Adam(p, lr=2e-3, betas=(0.0, 0.99)), regularizer=R1(interval=16))
    opt_g, opt_d = module.configure_optimizers()
    c = 16 / 17
    assert_close(opt_d.param_groups[0]["lr"], 2e-3 * c)
    assert_close(opt_d.param_groups[0]["betas"], (0.0, 0.99**c))
    assert opt_g.param_groups[0]["lr"] == 1e-3 and opt_g.param_groups[0]["betas"] == (0.5, 0.99)
    every_batch = GAN(nn.Linear(1, 1), nn.Linear(1, 1), NonSaturating(), torch.optim.Adam,
                      lambda p: torch.optim.Adam(p, lr=2e-3), regularizer=R1(interval=1))
    assert every_batch.configure_optimizers()[1].param_groups[0]["lr"] == 2e-3


def test_lazy_penalty_is_its_own_d_step_every_interval_batches(tiny_cfg, monkeypatch):
    import lightning as L

    cfg = tiny_cfg("mlp", "dataset=ring", "regularizer=r1", "regularizer.r1.interval=3", "total_kimg=0.056")  # 7 batches
    datamodule, module, trainer = build(cfg)
    backward, penalties = [], []  # (batch, loss) of every backward pass; (batch, penalty) of every penalty
    monkeypatch.setattr(module, "manual_backward",
                        lambda loss: (backward.append((module.batches, loss.detach())),
                                      L.LightningModule.manual_backward(module, loss)))
    reg_forward = module.regularizer.forward
    monkeypatch.setattr(module.regularizer, "forward",
                        lambda *args: penalties.append((module.batches, reg := reg_forward(*args))) or reg)
    trainer.fit(module, datamodule=datamodule)
    assert [b for b, _ in penalties] == [0, 3, 6]
    per_batch = [sum(b == batch for b, _ in backward) for batch in range(7)]
    assert per_batch == [3, 2, 2, 3, 2, 2, 3]  # D loss, penalty on its own, G loss; else D loss, G loss
    due = [loss for b, loss in backward if b in (0, 3, 6)]
    for i, (_, penalty) in enumerate(penalties):
        assert torch.equal(due[3 * i + 1], penalty.detach())  # the second backward of a due batch is the penalty
    # D's weights took 7 + 3 steps; its last bias, which the input gradient does not reach, 7
    assert adam_steps(trainer.optimizers[1]) == {7 + 3, 7}


def test_generator_penalty_joins_the_g_loss(tiny_cfg):
    module, trainer = fit(tiny_cfg("mlp", "dataset=ring", "regularizer=ortho", "total_kimg=0.016"))
    assert module.batches == 2 and torch.isfinite(trainer.callback_metrics["reg/ortho_g"])


def test_standing_statistics_are_the_average_over_batches_of_the_nets_own_activations():
    from gan_lightning.training.callbacks.ema import standing_statistics

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    zs = [torch.randn(8, 3) + i for i in range(4)]
    batches = iter(zs)
    standing_statistics(net, lambda n: (next(batches),), batches=4, batch_size=8)
    with torch.no_grad():
        h = [net[0](z) for z in zs]
    assert_close(net[1].running_mean, torch.stack([x.mean(0) for x in h]).mean(0))
    assert_close(net[1].running_var, torch.stack([x.var(0) for x in h]).mean(0))  # unbiased, as BatchNorm
    assert not net.training and net[1].momentum == 0.1


def test_g_ema_is_sampled_with_statistics_of_its_own_weights_not_gs(tiny_cfg):
    module, _ = fit(tiny_cfg("dcgan", "dataset.resolution=16", "total_kimg=0.016", "callbacks.ema.halflife_kimg=0"))
    with torch.no_grad():  # make G_ema differ from G: its copied statistics no longer fit
        for p in module.G_ema.parameters():
            p.mul_(1.5)
    module.ema_statistics_batches = 0
    copied = module.G_ema.net[0][1].running_mean.clone()
    module.ema_generator()
    recomputed = module.G_ema.net[0][1].running_mean
    assert not torch.allclose(copied, recomputed)
    generator = torch.Generator().manual_seed(module.seed)  # the draws ema_generator() makes
    with torch.no_grad():
        h = [module.G_ema.net[0][0](torch.randn(64, module.z_dim, generator=generator)[:, :, None, None])
             for _ in range(module.standing_batches)]
    assert_close(recomputed, torch.stack([x.mean((0, 2, 3)) for x in h]).mean(0))
    assert module.ema_statistics_batches == module.standing_batches and not module.G_ema.training


def test_previews_use_fewer_standing_batches_and_metrics_recompute_with_all(tiny_cfg):
    module, _ = fit(tiny_cfg("dcgan", "dataset.resolution=16", "total_kimg=0.016", "metrics=none"))
    assert module.ema_statistics_batches == 4  # the last preview's (callbacks.preview.standing_batches)
    module.ema_generator()  # what metrics and generate call
    assert module.ema_statistics_batches == module.standing_batches == 16
    module.ema_generator(4)  # statistics of more batches serve a preview too: no recomputation
    assert module.ema_statistics_batches == 16


def test_wasserstein_loss_brings_weight_clipping_unless_a_regularizer_is_chosen(tiny_cfg):
    assert tiny_cfg("mlp", "dataset=ring", "loss=wgan").regularizer._target_.endswith("WeightClipping")
    assert tiny_cfg("mlp", "dataset=ring", "loss=wgan", "regularizer=gp").regularizer._target_.endswith("GradientPenalty")
    assert tiny_cfg("mlp", "dataset=ring", "loss=wgan", "regularizer=none").regularizer._target_.endswith("NoRegularizer")


def test_wgangp_with_the_batch_norm_dcgan_critic_switches_to_layer_norm(tiny_cfg):
    assert tiny_cfg("dcgan").arch.discriminator.normalization == "batch"
    assert tiny_cfg("dcgan", "loss=wgangp").arch.discriminator.normalization == "layer"
    chosen = tiny_cfg("dcgan", "loss=wgangp", "arch.discriminator.normalization=none")
    assert chosen.arch.discriminator.normalization == "none"
