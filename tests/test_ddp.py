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


def rank_states(cfg, tmp_path) -> list[dict]:
    """Train `cfg` under DDP; the state dict each of the two ranks held at the end."""
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.append(SaveState(str(tmp_path)))
    trainer.fit(module, datamodule=datamodule)
    return [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]


def test_ranks_hold_bit_identical_weights_after_steps_with_a_gradient_penalty(tiny_cfg, tmp_path):
    # spectral norm in D (power-iteration buffers), batch norm in G, the penalty's double backward through DDP,
    # a lazy penalty (its own optimizer step every 2nd batch), DiffAugment drawing different numbers per rank
    cfg = tiny_cfg("sndcgan", "dataset.resolution=16", "trainer=ddp_cpu", "regularizer=gp", "regularizer.gp.interval=2",
                   "augment=diffaugment", "n_critic=2", "total_kimg=0.064", "callbacks.checkpoint.every_kimg=0",
                   "callbacks.preview.every_kimg=0.032")
    states = rank_states(cfg, tmp_path)
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


class RecordLogs(L.Callback):
    """Each rank writes the D step's logs of every batch (its own logit means, BEGAN's k_t and M)."""

    def __init__(self, dirpath: str, keys: tuple[str, ...]) -> None:
        self.dirpath, self.keys, self.rows = dirpath, keys, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rows.append([float(pl_module.last_logs[key]) for key in self.keys])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.save(torch.tensor(self.rows, dtype=torch.float64), f"{self.dirpath}/logs{trainer.global_rank}.pt")


def test_began_k_t_is_updated_from_the_global_batch_and_m_is_its_global_mean(tiny_cfg, tmp_path):
    # k_init and lambda_k keep k_t off its clamps at 0 and 1, where ranks would agree by accident
    cfg = tiny_cfg("began", "loss=began", "loss.k_init=0.5", "loss.lambda_k=0.1", "loss.gamma=0.7",
                   "trainer=ddp_cpu", "total_kimg=0.096", "callbacks.checkpoint.every_kimg=0",
                   "callbacks.preview.every_kimg=0", "metrics=none")
    keys = ("logits/real", "logits/fake", "equilibrium/k", "equilibrium/convergence")
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.append(RecordLogs(str(tmp_path), keys))
    trainer.fit(module, datamodule=datamodule)
    rank0, rank1 = (torch.load(tmp_path / f"logs{rank}.pt") for rank in (0, 1))
    assert rank0.shape == (6, 4) and not torch.equal(rank0[:, 0], rank1[:, 0])  # the ranks saw different images
    real, fake = (rank0[:, 0] + rank1[:, 0]) / 2, (rank0[:, 1] + rank1[:, 1]) / 2  # global means: equal batches
    k = torch.clamp(0.5 + 0.1 * torch.cumsum(0.7 * real - fake, 0), 0, 1)  # no clamp is hit (checked below)
    assert 0 < float(k.min()) and float(k.max()) < 1
    for rank in (rank0, rank1):
        torch.testing.assert_close(rank[:, 2], k, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(rank[:, 3], real + (0.7 * real - fake).abs(), rtol=1e-5, atol=1e-6)


def test_ada_adds_the_signs_of_both_ranks_and_ranks_agree_on_p(tiny_cfg, tmp_path):
    cfg = tiny_cfg("dcgan", "dataset.resolution=16", "trainer=ddp_cpu", "augment=ada", "augment.interval=3",
                   "augment.speed_kimg=0.1", "metrics=none", "total_kimg=0.064", "callbacks.checkpoint.every_kimg=0",
                   "callbacks.preview.every_kimg=0")
    states = rank_states(cfg, tmp_path)
    for key in ("augment.p", "augment.rt", "augment.steps", "augment.signs"):
        assert torch.equal(states[0][key], states[1][key]), key
    # 4 batches, an update after the 3rd: the 4th batch's logits of both ranks (8 each) are in the sums
    assert states[0]["augment.steps"] == 4 and states[0]["augment.signs"][1] == 16
    assert states[0]["augment.p"] == float(states[0]["augment.rt"] > 0.6) * 0.48  # 48 images / 100
