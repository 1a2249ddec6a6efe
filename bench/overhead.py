"""Framework overhead: seconds per batch of our Lightning module vs a plain PyTorch loop, same nets and data.

    python bench/overhead.py [--arch dcgan] [--batches 100] [--channels 64]

Both runs happen in this process on the same machine; the figure to read is the ratio (1.00 = no overhead).
The Lightning run includes the default callbacks (EMA, previews, checkpoints) but no logger or progress bar.
"""
import argparse
import time

import torch
from hydra.utils import instantiate

from gan_lightning.build import build
from gan_lightning.config import compose


def gan_step(G, D, loss, opt_g, opt_d, real: torch.Tensor, z_dim: int, c: torch.Tensor | None = None) -> None:
    """One hand-written D step and G step (no regularizer), as the module does them."""
    with torch.no_grad():
        fake = G(torch.randn(len(real), z_dim, device=real.device), c)
    d_loss = loss.d(D(real, c), D(fake, c))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    D.requires_grad_(False)
    g_loss = loss.g(D(G(torch.randn(len(real), z_dim, device=real.device), c), c))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)


def plain_loop(cfg, batches: int) -> float:
    """Seconds per batch of a hand-written D step + G step with the same nets, loss and batch size."""
    datamodule = instantiate(cfg.dataset)
    datamodule.setup("fit")
    G, D = instantiate(cfg.arch.generator), instantiate(cfg.arch.discriminator)
    loss = instantiate(cfg.loss)
    opt_g = instantiate(cfg.optimizer.generator)(G.parameters())
    opt_d = instantiate(cfg.optimizer.discriminator)(D.parameters())
    images = datamodule.data[0]
    start = None
    for i in range(batches + 5):
        if i == 5:
            start = time.perf_counter()
        index = torch.randint(len(images), (cfg.batch_size,))
        gan_step(G, D, loss, opt_g, opt_d, images[index].float() / 127.5 - 1, cfg.z_dim)
    return (time.perf_counter() - start) / batches


class Timer:
    """Records the time of each batch from the sixth on."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, *args) -> None:
        self.times.append(time.perf_counter())


def lightning_run(cfg, batches: int, tmp: str) -> float:
    """Seconds per batch of `trainer.fit` with the GAN module for `batches` + 5 batches."""
    import lightning as L

    timer = Timer()
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.append(L.pytorch.callbacks.LambdaCallback(on_train_batch_end=timer))
    trainer.fit(module, datamodule=datamodule)
    return (timer.times[-1] - timer.times[4]) / (len(timer.times) - 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--channels", type=int, default=64)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"arch={args.arch}", f"arch.generator.channels={args.channels}",
                     f"arch.discriminator.channels={args.channels}", "trainer.accelerator=cpu",
                     "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "~logger",
                     f"total_kimg={(args.batches + 5) * 64 / 1000}"]
        cfg = compose(overrides, tmp)
        torch.manual_seed(0)
        plain = plain_loop(cfg, args.batches)
        ours = lightning_run(cfg, args.batches, tmp)
    print(f"{args.arch} width {args.channels}, batch {cfg.batch_size}, {torch.get_num_threads()} threads")
    print(f"plain PyTorch loop : {plain * 1000:8.1f} ms/batch")
    print(f"gan_lightning      : {ours * 1000:8.1f} ms/batch")
    print(f"ratio              : {ours / plain:8.2f}")


if __name__ == "__main__":
    main()
