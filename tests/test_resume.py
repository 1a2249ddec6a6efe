"""Exact resume of every stateful feature: a run stopped at an awkward batch and resumed ends with the same
weights, optimizer states, clock and callback states as the run that was never stopped (CPU)."""
import shutil

import lightning as L
import pytest
import torch

from gan_lightning.run.build import build
from tests.conftest import compose, tiny

TOY = ("mlp", "dataset=ring", "metrics=none", "callbacks.ema.halflife_kimg=0.05")  # EMA in every case
PGGAN = ("pggan", "loss=wgangp", "dataset.resolution=8", "metrics=none", "arch.schedule.stable_kimg=0.016",
         "arch.schedule.transition_kimg=0.016", "arch.schedule.batch_sizes={8:4}", "callbacks.ema.halflife_kimg=0.05")

# One line per stateful feature: (tiny() arguments, images at the cut, images in the whole run).
# Adding a feature (BEGAN's k_t, an augmentation probability) is one more line here.
CASES = {
    "n_critic, mid cycle": ((*TOY, "n_critic=3"), 32, 80),
    "n_critic, first batch of a cycle": ((*TOY, "n_critic=3"), 24, 80),
    "EMA per G step from a start (BigGAN)": ((*TOY, "n_critic=3", "callbacks.ema.decay_per_g_step=0.9",
                                              "callbacks.ema.start_g_steps=2"), 32, 80),
    "lazy regularization, between penalties": ((*TOY, "regularizer=r1", "regularizer.r1.interval=3"), 32, 80),
    "wgangp: n_critic 5 and gradient penalty": ((*TOY, "loss=wgangp"), 56, 96),
    "metric history and best": (("mlp", "dataset=ring", "metrics.every_kimg=0.016", "metrics.n_samples=64"), 40, 80),
    "progressive, mid transition": (PGGAN, 28, 64),
    "BEGAN's k_t": (("began", "loss=began", "loss.lambda_k=0.05", "dataset.resolution=16", "metrics=none",
                     "callbacks.ema.halflife_kimg=0.05"), 32, 64),
    "DiffAugment on D's inputs": (("dcgan", "dataset.resolution=16", "augment=diffaugment", "metrics=none",
                                   "callbacks.ema.halflife_kimg=0.05"), 24, 48),
    # cut at batch 3 of an interval of 4; p moves by 0.32 per update
    "ADA's p, mid interval": (("dcgan", "dataset.resolution=16", "augment=ada", "augment.speed_kimg=0.1",
                               "metrics=none", "callbacks.ema.halflife_kimg=0.05"), 24, 64),
}


class CopyAt(L.Callback):
    """Keeps a copy of last.ckpt as it was written at `nimg` (runs after callbacks.checkpoint)."""

    def __init__(self, nimg: int, source, target) -> None:
        self.nimg, self.source, self.target = nimg, source, target

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.nimg == self.nimg:
            shutil.copy(self.source, self.target)


def fit(overrides, folder, ckpt_path=None, copy_at=None):
    datamodule, module, trainer = build(compose(overrides, folder))
    if copy_at is not None:
        trainer.callbacks.append(CopyAt(copy_at, folder / "checkpoints" / "last.ckpt", folder / "cut.ckpt"))
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    return torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)


def assert_same(a, b, where: str = "") -> None:
    """Equal nested checkpoint contents; tensors bit for bit."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


@pytest.mark.parametrize("case", CASES)
def test_a_resumed_run_equals_the_uninterrupted_one(case, tmp_path):
    args, cut, total = CASES[case]
    common = [*tiny(*args), f"total_kimg={total / 1000}", f"callbacks.checkpoint.every_kimg={cut / 1000}",
              "callbacks.preview.every_kimg=0", "callbacks.log.every_kimg=0"]
    whole = fit(common, tmp_path / "whole", copy_at=cut)
    cut_ckpt = tmp_path / "whole" / "cut.ckpt"
    assert torch.load(cut_ckpt, weights_only=True)["clock"]["nimg"] == cut
    resumed = fit(common, tmp_path / "resumed", ckpt_path=str(cut_ckpt))
    assert whole["clock"] == resumed["clock"] and whole["clock"]["nimg"] >= total
    assert_same(whole["state_dict"], resumed["state_dict"], "state_dict")
    assert_same(whole["optimizer_states"], resumed["optimizer_states"], "optimizer_states")
    metrics = [key for key in whole["callbacks"] if key.startswith("MetricsCallback")]
    for key in metrics:
        state_whole, state_resumed = whole["callbacks"][key], resumed["callbacks"][key]
        measured = any(arg.startswith("metrics.every_kimg") for arg in args)
        assert [h["kimg"] for h in state_whole["history"]] == ([0.016, 0.032, 0.048, 0.064, 0.08] if measured else [])
        assert [h["kimg"] for h in state_resumed["history"]] == [h["kimg"] for h in state_whole["history"]]
        for name in ("best_value", "best_kimg"):
            assert state_whole[name] == state_resumed[name], name
        assert_same([h["values"] for h in state_whole["history"]], [h["values"] for h in state_resumed["history"]])
