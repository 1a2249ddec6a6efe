"""The learning-rate ramp-down: its factor, the rates it sets, and a resumed run that gets the same rates."""
import pytest
import torch

from gan_lightning.errors import ConfigError
from gan_lightning.training.callbacks.lr import LRDecay, decay_factor
from gan_lightning.training.schedule import run_progress
from tests.conftest import compose, tiny
from tests.test_module import fit


def test_decay_factor_holds_then_falls_linearly_to_final():
    assert decay_factor(0.0, 0.5, 0.0) == 1.0
    assert decay_factor(0.5, 0.5, 0.0) == 1.0
    assert decay_factor(0.75, 0.5, 0.0) == pytest.approx(0.5)
    assert decay_factor(0.75, 0.5, 0.2) == pytest.approx(0.6)
    assert decay_factor(1.0, 0.5, 0.2) == pytest.approx(0.2)
    assert decay_factor(0.9, 1.0, 0.0) == 1.0  # start 1: off


def test_run_progress_follows_the_first_limit():
    assert run_progress(500, 0, 1.0, None) == 0.5
    assert run_progress(500, 30, 1.0, 40) == 0.75
    assert run_progress(500, 30, None, None) == 0.0
    assert run_progress(5000, 0, 1.0, None) == 1.0


@pytest.mark.parametrize("key,value", [("start", 1.5), ("start", -0.1), ("final", 2.0)])
def test_out_of_range_settings_are_refused_by_name(key, value):
    with pytest.raises(ConfigError, match=f"lr_decay.{key}"):
        LRDecay(**{key: value})


def test_rates_follow_the_schedule_and_a_resumed_run_matches(tmp_path):
    common = tiny("mlp", "dataset=ring", "total_kimg=0.128", "callbacks.lr_decay.start=0.25",
                  "callbacks.lr_decay.final=0.1", "callbacks.checkpoint.every_kimg=0")
    whole, trainer = fit(compose(common, tmp_path / "whole"))  # 16 batches of 8
    # the last batch started at 120 images: factor 1 - 0.9 * (120/128 - 0.25) / 0.75
    expected = 1 - 0.9 * (120 / 128 - 0.25) / 0.75
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            assert group["lr"] == pytest.approx(group["base_lr"] * expected)
    fit(compose([*common, "trainer.max_steps=16"], tmp_path / "first"))  # 8 batches (2 steps per batch)
    ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    resumed, resumed_trainer = fit(compose(common, tmp_path / "second"), ckpt_path=str(ckpt))
    assert resumed.batches == whole.batches == 16
    for a, b in zip(trainer.optimizers, resumed_trainer.optimizers):
        assert [g["lr"] for g in a.param_groups] == [g["lr"] for g in b.param_groups]
    expected_state, actual = whole.state_dict(), resumed.state_dict()
    for key in expected_state:
        assert torch.equal(expected_state[key], actual[key]), key


def test_lr_decay_multiplies_pggans_stage_rates(tmp_path):
    # stages as in tests/test_pggan.py: the last batch starts at 98 of 100 images, at 16x16 (the configured 1e-3)
    cfg = compose(tiny("pggan", "loss=wgangp", "dataset.resolution=16", "arch.schedule.stable_kimg=0.024",
                       "arch.schedule.transition_kimg=0.032", "arch.schedule.batch_sizes={8:4,16:2}",
                       "arch.schedule.lr={8:5e-4}", "callbacks.checkpoint.every_kimg=0", "total_kimg=0.1",
                       "callbacks.lr_decay.start=0.5", "callbacks.lr_decay.final=0.5"), tmp_path)
    _, trainer = fit(cfg)
    for optimizer in trainer.optimizers:
        group = optimizer.param_groups[0]
        assert group["lr"] == pytest.approx(1e-3 * (1 - 0.5 * (0.98 - 0.5) / 0.5))  # not overwritten by the stage
        assert group["lr_factors"]["lr_decay"] == pytest.approx(0.52)
