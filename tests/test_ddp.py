"""Two CPU processes with DDP: the strategy from config trains, counts images over both ranks, resumes."""
import lightning as L
import torch

from gan_lightning.run.build import build
from tests.test_module import fit


def test_two_process_ddp_trains_and_counts_images_of_both_ranks(tiny_cfg, tmp_path):
    cfg = tiny_cfg("mlp", "dataset=ring", "trainer=ddp_cpu", "regularizer=r1", "n_critic=2",
                   "total_kimg=0.064", "callbacks.checkpoint.every_kimg=0")
    fit(cfg)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["clock"] == {"nimg": 64, "batches": 4}  # batch 8 per rank x 2 ranks x 4 batches
    assert len(ckpt["optimizer_states"]) == 2
    assert (tmp_path / "samples" / "fakes000000.064.png").is_file() and (tmp_path / "csv" / "metrics.csv").is_file()


class SaveState(L.Callback):
    """Each rank writes its module's state (parameters and buffers) at the end of training."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = dirpath

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state = {key: value.detach().clone() for key, value in pl_module.state_dict().items()}
        torch.save(state, f"{self.dirpath}/rank{trainer.global_rank}.pt")


BATCH_NORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def test_ranks_hold_bit_identical_weights_after_steps_with_a_gradient_penalty(tiny_cfg, tmp_path):
    # spectral norm in D (power-iteration buffers), batch norm in G, the penalty's double backward through DDP,
    # a lazy penalty (its own optimizer step every 2nd batch), DiffAugment drawing different numbers per rank
    cfg = tiny_cfg("sndcgan", "dataset.resolution=16", "trainer=ddp_cpu", "regularizer=gp", "regularizer.gp.interval=2",
                   "augment=diffaugment", "n_critic=2", "total_kimg=0.064", "callbacks.checkpoint.every_kimg=0",
                   "callbacks.preview.every_kimg=0.032")
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.append(SaveState(str(tmp_path)))
    trainer.fit(module, datamodule=datamodule)
    states = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    assert states[0].keys() == states[1].keys()
    compared = [key for key in states[0] if not key.endswith(BATCH_NORM_STATISTICS)]
    assert any(key.startswith("G_ema.") for key in compared) and any("_u" in key for key in compared)
    for key in compared:
        assert torch.equal(states[0][key], states[1][key]), key
    # rank 0 alone writes: one CSV row per logging interval, one preview per interval
    rows = (tmp_path / "csv" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len({row.split(",")[0] for row in rows[1:]})
    assert sorted(p.name for p in (tmp_path / "samples").glob("fakes*.png")) == [
        "fakes000000.000.png", "fakes000000.032.png", "fakes000000.064.png"]
