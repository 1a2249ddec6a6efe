"""callbacks.schedules: R3GAN's cosine schedules of lr, beta2, gamma, G_ema's half-life and ADA's p, the values a
run gets, a resumed run that gets the same, and what is refused."""
import math

import pytest
import torch

from gan_lightning.errors import ConfigError
from gan_lightning.training.callbacks.schedules import Cosine, Schedules
from tests.conftest import compose, tiny
from tests.test_module import fit


def reference(cur_nimg, base_value, total_nimg, final_value=0.0, warmup_value=0.0, warmup_nimg=0,
              hold_base_value_nimg=0):
    """R3GAN's cosine_decay_with_warmup (training/training_loop.py), retyped from its formula as the oracle."""
    decay = 0.5 * (1 + math.cos(math.pi * (cur_nimg - warmup_nimg - hold_base_value_nimg)
                                / float(total_nimg - warmup_nimg - hold_base_value_nimg)))
    value = base_value + (1 - decay) * (final_value - base_value)
    if hold_base_value_nimg > 0 and not cur_nimg > warmup_nimg + hold_base_value_nimg:
        value = base_value
    if warmup_nimg > 0 and cur_nimg < warmup_nimg:
        value = (base_value - warmup_value) / warmup_nimg * cur_nimg + warmup_value
    return final_value if cur_nimg > total_nimg else value


@pytest.mark.parametrize("spec", [
    dict(base=2e-4, final=5e-5, kimg=20000),  # R3GAN's CIFAR-10 lr
    dict(base=0.9, final=0.99, kimg=20000),  # its beta2
    dict(base=0.05, final=0.005, kimg=100, warmup=0.0, warmup_kimg=10, hold_kimg=20),
])
def test_the_cosine_is_r3gans_cosine_decay_with_warmup(spec):
    schedule = Cosine(**spec)
    ref = dict(base_value=spec["base"], final_value=spec["final"], total_nimg=spec["kimg"] * 1000,
               warmup_value=spec.get("warmup", 0.0), warmup_nimg=spec.get("warmup_kimg", 0) * 1000,
               hold_base_value_nimg=spec.get("hold_kimg", 0) * 1000)
    for nimg in [0, 1, 4_000, 10_000, 25_000, 33_333, 50_000, 99_999, 100_000, 5_000_000, 10_000_000, 2e7, 3e7]:
        assert schedule(int(nimg)) == pytest.approx(reference(int(nimg), **ref), rel=1e-12, abs=1e-15), nimg
    assert schedule(int(spec["kimg"] * 500 + spec.get("warmup_kimg", 0) * 500 + spec.get("hold_kimg", 0) * 500)) \
        == pytest.approx((spec["base"] + spec["final"]) / 2)


COMMON = ["arch.generator.channels=8", "arch.discriminator.channels=8", "regularizer=[r1,r2]", "augment=ada",
          "augment.p=0.0", "callbacks.checkpoint.every_kimg=0", "total_kimg=0.128",
          "callbacks.schedules.lr={base:1.0,final:0.25,kimg:0.2}",
          "callbacks.schedules.beta2={base:0.9,final:0.99,kimg:0.2}",
          "callbacks.schedules.gamma={base:0.05,final:0.005,kimg:0.2}",
          "callbacks.schedules.ema_halflife_kimg={base:0,final:5,kimg:0.2}",
          "callbacks.schedules.augment_p={base:0,final:0.55,kimg:0.2}"]


def test_a_run_gets_the_scheduled_values_and_a_resumed_run_the_same(tmp_path):
    common = tiny("dcgan", *COMMON)
    whole, trainer = fit(compose(common, tmp_path / "whole"))  # 16 batches of 8
    at = 120  # the last batch started at 120 images
    lr, beta2, gamma = (Cosine(b, f, 0.2)(at) for b, f in ((1.0, 0.25), (0.9, 0.99), (0.05, 0.005)))
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            assert group["lr"] == pytest.approx(group["base_lr"] * lr) and group["betas"][1] == pytest.approx(beta2)
    assert [reg.weight for reg in whole.regularizer.items.values()] == pytest.approx([gamma, gamma])
    assert float(whole.augment.p) == pytest.approx(Cosine(0, 0.55, 0.2)(at))
    schedules = next(cb for cb in trainer.callbacks if isinstance(cb, Schedules))
    assert schedules.ema.halflife_kimg == pytest.approx(Cosine(0, 5, 0.2)(at))
    fit(compose([*common, "trainer.max_steps=16"], tmp_path / "first"))  # 8 batches (2 steps per batch)
    resumed, _ = fit(compose(common, tmp_path / "second"),
                     ckpt_path=str(tmp_path / "first" / "checkpoints" / "last.ckpt"))
    assert resumed.batches == whole.batches == 16
    expected, actual = whole.state_dict(), resumed.state_dict()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


@pytest.mark.parametrize("kwargs,match", [
    (dict(lr=dict(base=1.0, final=0.5)), r"schedules.lr=.*accepted: null, or \{base"),
    (dict(beta2=dict(base=0.9, final=1.5, kimg=10)), "schedules.beta2.final=1.5"),
    (dict(gamma=dict(base=0.05, final=0.005, kimg=10, warmup_kimg=10)), "must exceed warmup_kimg"),
    (dict(lr=dict(base=0, final=0.5, kimg=10)), "accepted: base > 0"),
])
def test_bad_schedules_are_refused_by_name(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Schedules(**kwargs)


@pytest.mark.parametrize("overrides,match", [
    (["regularizer=r1", "callbacks.schedules.gamma={base:1,final:0.1,kimg:1}"], r"weight of \['r1', 'r2'\]"),
    (["regularizer=r1", "regularizer.r1.interval=4", "callbacks.schedules.beta2={base:0.9,final:0.99,kimg:1}"],
     "lazy penalty"),
    (["augment=ada", "callbacks.schedules.augment_p={base:0,final:0.5,kimg:1}"], "fixed p"),
])
def test_a_schedule_without_its_target_is_refused_before_training(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        fit(compose(tiny("dcgan", *overrides), tmp_path))
