"""The 2-D mixture mode statistics (VEEGAN / PacGAN protocol) on hand-built point sets."""
import math

import pytest
import torch
from torch.testing import assert_close

from gan_lightning.data.toy import ToyDataModule
from gan_lightning.metrics.toy import mode_statistics

MODES = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
STD = 0.01


def test_points_on_every_mode_capture_all_with_uniform_histogram():
    points = MODES.repeat(25, 1) + 0.5 * STD  # 100 points, 25 per mode, 0.7 std from the centre
    stats = mode_statistics(points, MODES, STD)
    assert stats == pytest.approx({"modes": 4.0, "high_quality": 1.0, "kl": -math.log(1 - math.exp(-4.5)),
                                   "kl_high_quality": 0.0})


def test_one_mode_only_gives_one_captured_mode_and_kl_log_k():
    stats = mode_statistics(MODES[:1].repeat(100, 1), MODES, STD)
    assert stats["modes"] == 1.0 and stats["high_quality"] == 1.0
    assert_close(stats["kl_high_quality"], math.log(4))
    assert_close(stats["kl"], math.log(4 / (1 - math.exp(-4.5))))


def test_off_mode_points_are_not_high_quality_and_small_modes_are_not_captured():
    on_mode = torch.cat([MODES[0].repeat(30, 1), MODES[1].repeat(10, 1)])  # mode 1 below min_count 20
    off_mode = torch.tensor([[0.5, 0.5]]).repeat(60, 1)  # between modes, 50 std away
    stats = mode_statistics(torch.cat([on_mode, off_mode]), MODES, STD)
    assert stats["modes"] == 1.0
    assert_close(stats["high_quality"], 0.4)
    p = torch.tensor([0.75, 0.25])
    assert_close(stats["kl_high_quality"], float((p * (4 * p).log()).sum()))
    p, q = torch.tensor([0.3, 0.1, 0.6]), torch.tensor([0.25 * (1 - math.exp(-4.5))] * 2 + [math.exp(-4.5)])
    assert_close(stats["kl"], float((p * (p / q).log()).sum()))  # every point: two modes and the off-mode bin
    edge = mode_statistics(torch.tensor([[3 * STD, 0.0], [3.01 * STD, 0.0]]), MODES, STD, min_count=1)
    assert edge["high_quality"] == 0.5  # within 3 std counts, just beyond does not


def test_no_high_quality_points_reports_the_worst_kl():
    stats = mode_statistics(torch.full((10, 2), 0.5), MODES, STD)
    assert stats == pytest.approx({"modes": 0.0, "high_quality": 0.0, "kl": 4.5, "kl_high_quality": math.log(4)})


def test_real_samples_of_both_toy_sets_score_perfectly():
    for kind, k in (("ring", 8), ("grid", 25)):
        data = ToyDataModule(kind=kind, num_items=2500, batch_size=8)
        stats = mode_statistics(data.data[0], data.modes, data.std)
        assert stats["modes"] == k and stats["kl"] < 0.01 and stats["kl_high_quality"] < 0.01
        # a 2-D Gaussian holds 1 - exp(-9/2) = 98.9% of its mass within 3 std: the ceiling for any G
        assert_close(stats["high_quality"], 1 - math.exp(-4.5), atol=0.006, rtol=0)


def test_toy_runs_log_mode_coverage_of_gs_raw_points_by_default(tiny_cfg, tmp_path):
    import json

    from gan_lightning.metrics.suite import shard
    from gan_lightning.training.callbacks.metrics import fake_images
    from tests.test_module import fit

    module, trainer = fit(tiny_cfg("mlp", "dataset=grid", "metrics.n_samples=100"))
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    data = trainer.datamodule
    seed = next(c.fake_seed for c in trainer.callbacks if hasattr(c, "fake_seed"))  # metrics.fake_seed
    fake = fake_images(module, ema=True, seed=seed, points=True)  # the callback's chunks, unquantised
    points = torch.cat([fake(start, size) for start, size in shard(100, 64, 0, 1)])
    assert record["values"] == mode_statistics(points, data.modes, data.std)
    assert record["provenance"]["metrics"]["modes"]["mixture"] == "grid"
    assert trainer.callback_metrics["metrics/high_quality"] == record["values"]["high_quality"]
