"""Two CPU processes with DDP: the strategy from config trains, counts images over both ranks, resumes."""
import torch

from tests.test_module import fit


def test_two_process_ddp_trains_and_counts_images_of_both_ranks(tiny_cfg, tmp_path):
    cfg = tiny_cfg("mlp", "dataset=ring", "trainer=ddp_cpu", "regularizer=r1", "n_critic=2",
                   "total_kimg=0.064", "callbacks.checkpoint.every_kimg=0")
    fit(cfg)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["clock"] == {"nimg": 64, "batches": 4}  # batch 8 per rank x 2 ranks x 4 batches
    assert len(ckpt["optimizer_states"]) == 2
    assert (tmp_path / "samples" / "fakes000000.064.png").is_file() and (tmp_path / "csv" / "metrics.csv").is_file()
