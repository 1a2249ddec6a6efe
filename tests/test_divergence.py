"""NaN injected into the weights: found at the check interval, named with kimg and batch; or rolled back."""
import logging

import lightning as L
import pytest
import torch

from gan_lightning.run.build import build
from gan_lightning.training.checkpoint_io import read_checkpoint
from gan_lightning.training.divergence import nonfinite
from tests.conftest import compose, tiny

# 25 batches of 8 points; last.ckpt every 4 batches (0.032 kimg)
TOY = tiny("mlp", "dataset=ring", "metrics=none", "total_kimg=0.2", "callbacks.checkpoint.every_kimg=0.032",
           "callbacks.preview.every_kimg=0")


class PoisonOnce(L.Callback):
    """Writes NaN into one weight of D after batch `at` (as a bad update would), once."""

    def __init__(self, at: int) -> None:
        self.at, self.done = at, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.batches == self.at and not self.done:
            self.done = True
            with torch.no_grad():
                pl_module.discriminator.net[-1].bias.fill_(float("nan"))


def fit_poisoned(tmp_path, *overrides: str, at: int = 8):
    datamodule, module, trainer = build(compose([*TOY, *overrides], tmp_path))
    trainer.callbacks.insert(0, PoisonOnce(at))  # before callbacks.checkpoint, as a bad update would be
    trainer.fit(module, datamodule=datamodule)
    return module, trainer


def test_nonfinite_names_the_bad_tensors_with_one_check():
    assert nonfinite({"a": torch.ones(3), "b": torch.tensor([1.0, float("inf")]), "n": torch.tensor([2])}) == ["b"]
    assert nonfinite({"a": torch.zeros(2, 2)}) == [] and nonfinite({}) == []
    # finite values whose norm overflows fail the fused check; the exact search clears them
    big = {"big": torch.full((4,), 3e38), "half": torch.full((2,), 6e4, dtype=torch.half),
           "double": torch.ones(2, dtype=torch.float64), "nan": torch.tensor(float("nan"))}
    assert nonfinite(big) == ["nan"] and nonfinite({k: big[k] for k in ("big", "half", "double")}) == []


def test_nan_in_a_weight_stops_the_run_naming_the_tensor_kimg_and_batch(tmp_path):
    with pytest.raises(FloatingPointError) as stop:
        fit_poisoned(tmp_path)
    message = str(stop.value)
    # poisoned after batch 8, caught by the check before the save at batch 8: last.ckpt stays at batch 4
    assert message.startswith("discriminator.net.7.bias became NaN/inf at 0.064 kimg (batch 8); the last checkpoint"), message
    assert "module.on_divergence=rollback" in message
    assert read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["clock"] == {"nimg": 32, "batches": 4}


def test_rollback_reloads_the_last_good_checkpoint_with_lower_learning_rates(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="gan_lightning.training.divergence"):
        module, trainer = fit_poisoned(tmp_path, "module.on_divergence=rollback", "module.rollback_lr_factor=0.25")
    assert module.rollbacks == 1 and module.nimg == 200 and not nonfinite(dict(module.state_dict()))
    assert [group["lr"] for opt in trainer.optimizers for group in opt.param_groups] == [5e-5, 5e-5]
    warning = [r.getMessage() for r in caplog.records if "rolled back" in r.getMessage()]
    assert len(warning) == 1 and "at 0.064 kimg (batch 8); rolled back to" in warning[0]
    assert "(0.032 kimg) with learning rates x0.25 (rollback 1 of 3)" in warning[0]
    saved = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert saved["clock"] == {"nimg": 200, "batches": 25, "rollbacks": 1}
    assert saved["optimizer_states"][0]["param_groups"][0]["lr"] == 5e-5  # a resume keeps the lowered rate
