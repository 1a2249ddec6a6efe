"""Penalties that combine (regularizer=[r1,r2]): composition, the split into eager and lazy steps, drift, refusals."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.objectives import regularizers as R
from gan_lightning.objectives.penalties import Drift, Penalties
from gan_lightning.run.build import build
from gan_lightning.run.config import compose
from tests.conftest import tiny

REPO = Path(__file__).resolve().parents[1]


def fit(cfg):
    datamodule, module, trainer = build(cfg)
    trainer.fit(module, datamodule=datamodule)
    return module, trainer


def test_a_list_of_options_gives_each_penalty_its_own_weight_and_interval(tmp_path):
    cfg = compose(tiny("mlp", "dataset=ring", "regularizer=[r1,r2]", "regularizer.r1.weight=0.5",
                       "regularizer.r2.interval=2", "total_kimg=0.032"), tmp_path)
    penalties = Penalties(instantiate(cfg.regularizer))
    assert list(penalties.items) == ["r1", "r2"]
    assert (penalties.items["r1"].weight, penalties.items["r1"].interval) == (0.5, 1)
    assert (penalties.items["r2"].weight, penalties.items["r2"].interval) == (10.0, 2)
    r1, r2 = penalties.items.values()
    assert penalties.due(0) == ([r1], [r2]) and penalties.due(1) == ([r1], [])
    module, trainer = fit(cfg)
    assert module.batches == 4
    assert {"reg/r1", "reg/r2"} <= set(trainer.callback_metrics)


def test_one_regularizer_of_an_old_config_is_a_collection_of_one():
    one = Penalties(R.R1(weight=2.0))
    assert list(one.items) == ["r1"] and Penalties(None).due(0) == ([], [])
    assert Penalties({}).generator_penalties(nn.Linear(1, 1), torch.zeros(1), None) == {}


def test_the_penalties_sum_into_the_d_step_as_written_by_hand():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    forward = lambda x, c=None: D(x).squeeze(1)  # noqa: E731
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    penalties = Penalties({"r1": R.R1(weight=3.0), "r2": R.R2(weight=0.5), "drift": Drift(weight=0.1)})
    eager, lazy = penalties.due(0)
    logits = forward(real)
    total = sum(reg(forward, real, fake, None, logits) for reg in eager)
    w = D[1].weight.detach()  # a linear D: grad_x D = w for every sample
    expected = 3.0 * 0.5 * w.square().sum() + 0.5 * 0.5 * w.square().sum() + 0.1 * logits.detach().square().mean()
    assert lazy == [] and len(eager) == 3
    assert_close(total.detach(), expected)
    assert_close(Drift(weight=0.1)(forward, real, fake).detach(), 0.1 * logits.detach().square().mean())


def test_pggan_wgangp_stacks_gp_and_drift_as_the_old_loss_drift_did(tmp_path):
    common = tiny("pggan", "loss=wgangp", "dataset.resolution=8", "total_kimg=0.024")
    new = compose(common, tmp_path / "new")
    assert set(new.regularizer) == {"gp", "drift"} and new.regularizer.drift.weight == 0.001
    old = compose([*common, "~regularizer.drift", "loss.drift=0.001"], tmp_path / "old")
    torch.manual_seed(0)
    a, _ = fit(new)
    torch.manual_seed(0)
    b, _ = fit(old)
    for key, value in a.discriminator.state_dict().items():  # the same sum, added in another order
        assert_close(value, b.discriminator.state_dict()[key], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chosen, message", [
    ({"gp": R.GradientPenalty(), "dragan": R.DRAGAN()}, "dragan and gp are alternatives"),
    ({"clip": R.WeightClipping(), "gp": R.GradientPenalty()}, "clip and gp are alternatives"),
    ({"r1": R.R1(interval=16), "r2": R.R2(interval=4)}, r"intervals \[4, 16\] are not supported together"),
])
def test_combinations_that_make_no_sense_are_refused(chosen, message):
    with pytest.raises(ConfigError, match=message):
        Penalties(chosen)


def test_a_penalty_chosen_twice_is_one_line():
    result = subprocess.run([sys.executable, "train.py", "regularizer=[r1,r1]"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: regularizer=[r1,r1] has r1 twice; accepted: each option once, e.g. regularizer=[r1,r2] "
        "(the weight of each is regularizer.<option>.weight)")


def test_pggan_wgangp_with_r1_runs_r1_and_drift_and_drops_the_presets_gp_settings(tmp_path, caplog):
    from gan_lightning.run.build import _run_config, build_module

    cfg = compose(tiny("pggan", "loss=wgangp", "regularizer=r1", "dataset.resolution=8"), tmp_path)
    assert set(cfg.regularizer) == {"r1", "gp", "drift"}  # gp: the preset's settings, without a penalty
    with caplog.at_level("INFO"):
        cfg, _ = _run_config(cfg)
    assert set(cfg.regularizer) == {"r1", "drift"}  # what config.yaml records
    assert ("regularizer.gp: a preset's settings for gp are not used, as it is not among the chosen penalties; "
            "add it with regularizer=[r1,drift,gp]") in caplog.messages
    penalties = build_module(cfg).regularizer.items
    assert {key: type(reg).__name__ for key, reg in penalties.items()} == {"r1": "R1", "drift": "Drift"}
    assert (penalties["r1"].weight, penalties["drift"].weight) == (10.0, 0.001)
