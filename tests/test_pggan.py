"""PGGAN: the schedule at its boundaries, the fade-in of G, D and the reals, a grown run, exact resume."""
import csv
import itertools

import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.nets.eqlr import fade_resolution, upsample
from gan_lightning.nets.pggan import Discriminator, Generator
from gan_lightning.objectives.regularizers import GradientPenalty
from gan_lightning.training.schedule import ProgressiveSchedule, Stage
from tests.conftest import compose, tiny
from tests.test_module import fit

Z_DIM = 8


def nets(resolution: int = 32, channels: int = 3) -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    G = Generator(Z_DIM, resolution, channels, channel_base=128, max_channels=16)
    D = Discriminator(resolution, channels, channel_base=128, max_channels=16)
    return G, D


# --- schedule ------------------------------------------------------------------------------------------


def test_schedule_at_phase_boundaries():
    # stable 1 kimg, transition 2 kimg: 4 [0, 1000), 8 fades in [1000, 3000), stable [3000, 4000), 16 fades ...
    s = ProgressiveSchedule(32, batch_size=16, stable_kimg=1, transition_kimg=2, batch_sizes={16: 8, "32": 4},
                            lr={32: 2e-3})
    expected = {
        0: (4, 1.0, 16, None),
        999: (4, 1.0, 16, None),
        1000: (8, 0.0, 16, None),  # the first image of a transition: the new block with weight 0
        1500: (8, 0.25, 16, None),
        2999: (8, 0.9995, 16, None),
        3000: (8, 1.0, 16, None),
        4000: (16, 0.0, 8, None),  # a transition already uses the new resolution's batch size
        8999: (32, 0.9995, 4, 2e-3),
        9000: (32, 1.0, 4, 2e-3),  # grown: 3 doublings x 3 kimg
        10**9: (32, 1.0, 4, 2e-3),
    }
    for nimg, values in expected.items():
        assert s.at(nimg) == Stage(*values), nimg
    assert s.grown_nimg == 9000 and s.batch_size_at(4000) == 8
    abrupt = ProgressiveSchedule(16, 4, stable_kimg=1, transition_kimg=0)
    assert [abrupt.resolution_alpha(n) for n in (999, 1000, 1999, 2000)] == [(4, 1.0), (8, 1.0), (8, 1.0), (16, 1.0)]


@pytest.mark.parametrize("kwargs,message", [
    ({"stable_kimg": -1}, "arch.schedule.stable_kimg=-1 is not supported; accepted: a number >= 0"),
    ({"batch_sizes": {12: 4}}, "arch.schedule.batch_sizes has key 12; accepted: resolutions .powers of two."),
    ({"batch_sizes": {8: 0}}, "arch.schedule.batch_sizes.8=0 is not supported"),
    ({"start_resolution": 32}, "final_resolution=16 is not supported; accepted: a power of two >= start"),
])
def test_schedule_rejects_bad_values_by_key(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ProgressiveSchedule(16, 8, **kwargs)


# --- fade-in -------------------------------------------------------------------------------------------


def test_real_fade_by_hand():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # pooled to 2x2: [[2.5, 4.5], [10.5, 12.5]]; once more: 7.5; alpha 0.5 -> [[5, 6], [9, 10]], each 2x2
    expected = torch.tensor([[5.0, 6.0], [9.0, 10.0]]).repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert_close(fade_resolution(x, 2, 0.5), expected[None, None])
    assert_close(fade_resolution(x, 4, 1.0), x)
    assert_close(fade_resolution(x, 1, 0.0), torch.full_like(x, 7.5))  # nothing below 1x1 to blend with


def test_real_fade_alpha_0_is_the_previous_stage_and_1_the_new_one():
    x = torch.randn(2, 3, 32, 32)
    assert_close(fade_resolution(x, 16, 0.0), fade_resolution(x, 8, 1.0))
    assert_close(fade_resolution(x, 16, 1.0), upsample(torch.nn.functional.avg_pool2d(x, 2), 2))
    mixed = 0.3 * fade_resolution(x, 16, 1.0) + 0.7 * fade_resolution(x, 8, 1.0)
    assert_close(fade_resolution(x, 16, 0.3), mixed)


@torch.no_grad()
def test_generator_fade_in_blends_the_two_stages():
    G, _ = nets()
    z = torch.randn(4, Z_DIM)
    outputs = {}
    for resolution, alpha in [(8, 1.0), (16, 0.0), (16, 0.3), (16, 1.0)]:
        G.grow(resolution, alpha)
        outputs[resolution, alpha] = G(z)
        assert outputs[resolution, alpha].shape == (4, 3, 32, 32)  # always the full resolution
    assert_close(outputs[16, 0.0], outputs[8, 1.0])  # alpha 0: the previous stage
    assert_close(outputs[16, 0.3], 0.7 * outputs[8, 1.0] + 0.3 * outputs[16, 1.0])
    stage8 = outputs[8, 1.0]
    assert torch.equal(stage8, upsample(stage8[:, :, ::4, ::4], 4))  # an 8x8 image, nearest-upsampled


@torch.no_grad()
def test_discriminator_alpha_0_is_the_previous_stage_and_sees_the_faded_reals():
    _, D = nets()
    x = torch.randn(4, 3, 32, 32)
    D.grow(8, 1.0)
    previous = D(x)
    D.grow(16, 0.0)
    assert_close(D(x), previous)
    D.grow(16, 1.0)
    new = D(x)
    assert not torch.allclose(new, previous)
    assert_close(D(fade_resolution(x, 16, 1.0)), new)  # D pools its input: the faded reals lose nothing


@pytest.mark.parametrize("resolution", [8, 32])
def test_shapes_and_gradients_reach_exactly_the_active_layers(resolution):
    G, D = nets(resolution)
    G.grow(resolution, 0.5)
    D.grow(resolution, 0.5)
    fake = G(torch.randn(4, Z_DIM))
    logits = D(fake)
    assert fake.shape == (4, 3, resolution, resolution) and logits.shape == (4,)
    logits.mean().backward()
    levels = len(G.to_rgb)
    idle = {f"G.to_rgb.{i}." for i in range(levels - 2)} | {f"D.from_rgb.{i}." for i in range(levels - 2)}
    for name, p in itertools.chain(G.named_parameters(prefix="G"), D.named_parameters(prefix="D")):
        is_idle = any(name.startswith(prefix) for prefix in idle)
        assert (p.grad is None) == is_idle, name
        assert is_idle or (torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0), name


def test_widths_follow_table_2_and_the_stage_is_in_the_state_dict():
    G = Generator(512, 1024, 3)  # the paper's CelebA-HQ generator
    assert [m.weight.shape[0] for m in G.to_rgb] == [3] * 9
    assert [m.weight.shape[1] for m in G.to_rgb] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    small, _ = nets()
    small.grow(16, 0.25)
    copy, _ = nets()
    copy.load_state_dict(small.state_dict())
    assert (copy.resolution, copy.alpha) == (16, 0.25)


def test_bad_arguments_name_the_key():
    with pytest.raises(ConfigError, match="arch.generator.img_resolution=4 is not supported"):
        Generator(Z_DIM, 4, 3)
    with pytest.raises(ConfigError, match="arch.discriminator.channel_base=8 is not supported"):
        Discriminator(16, 3, channel_base=8)
    with pytest.raises(ConfigError, match="resolution=12 is not supported by this Generator; accepted: 4, 8"):
        nets(8)[0].grow(12)
    with pytest.raises(ConfigError, match="c_dim=10 is not supported by pggan, which takes no labels"):
        Generator(Z_DIM, 16, 3, c_dim=10)


# --- config and training -------------------------------------------------------------------------------


def test_pggan_wgangp_is_the_papers_setting_and_wgangp_alone_is_unchanged():
    cfg = compose(["arch=pggan", "loss=wgangp"])
    assert cfg.n_critic == 1 and cfg.regularizer.drift.weight == 0.001 and cfg.regularizer.gp.weight == 10.0
    for optimizer in (cfg.optimizer.generator, cfg.optimizer.discriminator):
        assert optimizer.lr == 1e-3 and list(optimizer.betas) == [0.0, 0.99]
    plain = compose(["loss=wgangp"])
    assert plain.n_critic == 5 and plain.optimizer.generator.lr == 1e-4 and set(plain.regularizer) == {"gp"}
    assert "progressive" not in plain.callbacks
    assert compose(["arch=pggan", "loss=wgangp", "n_critic=2"]).n_critic == 2  # the command line wins
    anime = compose(["experiment=pggan_anime", "dataset.root=/x"])
    assert anime.n_critic == 1 and anime.optimizer.discriminator.lr == 1e-3 and anime.dataset.resolution == 64
    # the penalty at the stage's resolution on the MNIST default; the official full-size one elsewhere
    assert cfg.regularizer.gp.stage_resolution is True and plain.regularizer.gp.stage_resolution is False
    assert compose(["experiment=pggan_celebahq", "dataset.root=/x"]).regularizer.gp.stage_resolution is False


def test_gradient_penalty_at_stage_resolution_is_the_norm_wrt_the_pooled_image():
    _, D = nets()
    D.grow(8, 1.0)
    assert D.pooling == 4
    D.grow(16, 0.0)
    assert D.pooling == 4  # alpha 0: still the 8x8 net, so the penalty does not jump at the fade-in
    D.grow(16, 0.5)
    assert_close(D.pooling, 2 * 2**0.5)
    D.grow(8, 1.0)
    real, fake = (upsample(torch.randn(4, 3, 8, 8), 4) for _ in range(2))  # images D sees at 8x8, full size
    torch.manual_seed(0)
    penalty = GradientPenalty(stage_resolution=True).penalty(D, real, fake, None)
    torch.manual_seed(0)
    eps = torch.rand(4, 1, 1, 1)
    small = torch.lerp(fake[:, :, ::4, ::4], real[:, :, ::4, ::4], eps).requires_grad_(True)  # [4, 3, 8, 8]
    (grad,) = torch.autograd.grad(D(upsample(small, 4)).sum(), small)  # pool(upsample(p)) = p
    assert_close(penalty, (grad.flatten(1).norm(dim=1) - 1).square().mean())


def logged(path, key: str) -> list[float]:
    with open(path / "csv" / "metrics.csv") as f:
        return [float(row[key]) for row in csv.DictReader(f) if row.get(key)]


def test_tiny_run_grows_through_every_stage(tmp_path):
    # stable and transition 8 images each, batches of 8: one batch per phase, 4 -> 16 after 32 images
    cfg = compose(tiny("pggan", "loss=wgangp", "dataset.resolution=16", "total_kimg=0.056",
                       "callbacks.log.every_kimg=0.001"), tmp_path)
    module, trainer = fit(cfg)
    assert logged(tmp_path, "schedule/resolution") == [4, 8, 8, 16, 16, 16, 16]
    assert logged(tmp_path, "schedule/alpha") == [1, 0, 1, 0, 1, 1, 1]
    for net in (module.generator, module.G_ema, module.discriminator):
        assert (net.resolution, net.alpha) == (16, 1.0)
    assert all(torch.isfinite(v).all() for v in trainer.logged_metrics.values())


def test_resume_in_the_middle_of_a_transition_equals_an_uninterrupted_run(tmp_path):
    # 4x4: 3 batches of 8; 8x8 fades in over 32 images in batches of 4; the cut at 40 images is mid-fade
    common = tiny("pggan", "loss=wgangp", "dataset.resolution=16", "arch.schedule.stable_kimg=0.024",
                  "arch.schedule.transition_kimg=0.032", "arch.schedule.batch_sizes={8:4,16:2}",
                  "arch.schedule.lr={8:5e-4}", "callbacks.ema.halflife_kimg=0.05",
                  "callbacks.checkpoint.every_kimg=0", "callbacks.log.every_kimg=0.001")
    whole, whole_trainer = fit(compose([*common, "total_kimg=0.1"], tmp_path / "whole"))
    first, _ = fit(compose([*common, "total_kimg=0.04"], tmp_path / "first"))
    assert (first.nimg, first.generator.resolution, first.generator.alpha) == (40, 8, 0.375)  # of the last batch
    ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    resumed, trainer = fit(compose([*common, "total_kimg=0.1"], tmp_path / "second"), ckpt_path=str(ckpt))
    # 24 at 4x4 (batch 8) + 32 fading 8x8 (batch 4) + 24 at 8x8 + 20 fading 16x16 (batch 2)
    assert (resumed.nimg, resumed.batches) == (whole.nimg, whole.batches) == (100, 3 + 8 + 6 + 10)
    assert logged(tmp_path / "second", "schedule/batch_size")[:2] == [4, 4]
    expected, actual = whole.state_dict(), resumed.state_dict()
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    assert actual["G_ema._extra_state"].tolist() == [16, 0.5625]  # the last batch starts at 98: 18 / 32
    for opt_whole, opt_resumed in zip(whole_trainer.optimizers, trainer.optimizers, strict=True):
        a, b = opt_whole.state_dict(), opt_resumed.state_dict()
        assert a["param_groups"] == b["param_groups"]
        assert a["param_groups"][0]["lr"] == 1e-3  # 16x16 is not in the lr table: the configured rate
        for index in a["state"]:
            for name in a["state"][index]:
                assert torch.equal(a["state"][index][name], b["state"][index][name]), (index, name)
