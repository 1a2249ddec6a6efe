"""Lightning's own cost per batch: a trivial GAN step in a LightningModule (manual optimisation, two Adam
optimizers, no callback of ours) against the same step in a plain loop, on CPU with one thread.

    python bench/lightning_floor.py [--repeats 7] [--batches 400]

The nets are two tiny MLPs, so the step itself takes about a millisecond and what is left is the loop: the
fetcher, the batch transfer, hook dispatch, LightningOptimizer.step and toggle_optimizer. The difference in
ms per batch is a floor under the framework tax of bench/throughput.py that only leaving Lightning would
remove. Printed: the median ms per batch of each side over interleaved repeats (ABAB), and the difference.
"""
import argparse
import logging
import statistics
import time

import lightning as L
import torch
from torch import nn
from torch.nn.functional import softplus


def nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    D = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    return G, D


def d_loss(G, D, x):
    with torch.no_grad():
        fake = G(torch.randn(len(x), 8))
    return softplus(-D(x)).mean() + softplus(D(fake)).mean()


def g_loss(G, D, x):
    return softplus(-D(G(torch.randn(len(x), 8)))).mean()


class Module(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.G, self.D = nets()

    def configure_optimizers(self):
        return [torch.optim.Adam(self.G.parameters()), torch.optim.Adam(self.D.parameters())]

    def training_step(self, batch, batch_idx) -> None:
        opt_g, opt_d = self.optimizers()
        opt_d.zero_grad()
        self.manual_backward(d_loss(self.G, self.D, batch[0]))
        opt_d.step()
        self.toggle_optimizer(opt_g)
        opt_g.zero_grad()
        self.manual_backward(g_loss(self.G, self.D, batch[0]))
        opt_g.step()
        self.untoggle_optimizer(opt_g)


class Clock(L.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_end(self, *args) -> None:
        self.times.append(time.perf_counter())


def ms_per_batch(times: list[float], warmup: int = 20) -> float:
    return (times[-1] - times[warmup - 1]) / (len(times) - warmup) * 1e3


def lightning(loader) -> float:
    clock = Clock()
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock])
    trainer.fit(Module(), loader)
    return ms_per_batch(clock.times)


def plain(loader) -> float:
    G, D = nets()
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    times = []
    for (x,) in loader:
        opt_d.zero_grad()
        d_loss(G, D, x).backward()
        opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad()
        g_loss(G, D, x).backward()
        opt_g.step()
        D.requires_grad_(True)
        times.append(time.perf_counter())
    return ms_per_batch(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    data = torch.utils.data.TensorDataset(torch.randn(32 * args.batches, 4))
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
    times: dict[str, list[float]] = {"lightning": [], "plain": []}
    for _ in range(args.repeats):
        times["lightning"].append(lightning(loader))
        times["plain"].append(plain(loader))
    ours, bare = (statistics.median(times[k]) for k in ("lightning", "plain"))
    print(f"cpu, 1 thread, batch 32, {args.repeats} x {args.batches} batches per side (first 20 untimed), ABAB")
    print(f"Lightning {ours:.3f} ms/batch, plain loop {bare:.3f} ms/batch: Lightning adds {ours - bare:.3f} ms a batch")


if __name__ == "__main__":
    main()
