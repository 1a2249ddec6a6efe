"""Every architecture at one image size: parameters of G and D, and one training step's time relative to DCGAN.

    python bench/archs.py [--resolution 32] [--batch 64] [--steps 5] [--archs dcgan,resnet,...] [--device cpu]

Each arch is built from its config in conf/arch at its default widths, for RGB images, unconditional; a step is
one D step and one G step (non-saturating loss, Adam, no regularizer) on random images. All archs are timed in
this process, interleaved round by round, and the median step time is divided by DCGAN's.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # this checkout's package (not another editable install)

from gan_lightning.run.config import compose  # noqa: E402

ARCHS = ["dcgan", "sndcgan", "resnet", "resnet19", "sagan", "selfmod", "biggan", "stylegan"]


def gan_step(G, D, loss, opt_g, opt_d, real: torch.Tensor, z_dim: int, c: torch.Tensor | None = None) -> None:
    """One hand-written D step and G step (no regularizer)."""
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


def build(arch: str, resolution: int, device: torch.device, tmp: str):
    """G, D, loss and both optimizers of `arch` as `python train.py arch=<arch>` would make them."""
    cfg = compose([f"arch={arch}", f"dataset.resolution={resolution}", "dataset.channels=3"], tmp)
    G = instantiate(cfg.arch.generator).to(device)
    D = instantiate(cfg.arch.discriminator).to(device)
    opt_g = instantiate(cfg.optimizer.generator)(G.parameters())
    opt_d = instantiate(cfg.optimizer.discriminator)(D.parameters())
    return G, D, instantiate(cfg.loss), opt_g, opt_d, cfg.z_dim


def step_time(parts, real: torch.Tensor) -> float:
    """Seconds for one D + G step."""
    if real.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    gan_step(*parts[:5], real, parts[5])
    if real.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per arch, after one warm-up step")
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    archs = args.archs.split(",")
    if "dcgan" not in archs:
        archs.insert(0, "dcgan")
    device = torch.device(args.device)
    torch.manual_seed(0)
    real = torch.rand(args.batch, 3, args.resolution, args.resolution, device=device) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        nets = {arch: build(arch, args.resolution, device, tmp) for arch in archs}
    times: dict[str, list[float]] = {arch: [] for arch in archs}
    for round_ in range(args.steps + 1):  # round 0 warms up; rounds interleave archs so load drifts hit all alike
        for arch in archs:
            seconds = step_time(nets[arch], real)
            if round_:
                times[arch].append(seconds)
    base = statistics.median(times["dcgan"])
    threads = torch.get_num_threads() if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"{args.resolution}x{args.resolution}x3, batch {args.batch}, {args.steps} steps, {device} ({threads})")
    print(f"{'arch':<10} {'G params':>10} {'D params':>10} {'ms/step':>9} {'vs dcgan':>9}")
    for arch in archs:
        G, D = nets[arch][:2]
        g, d = (sum(p.numel() for p in net.parameters()) / 1e6 for net in (G, D))
        median = statistics.median(times[arch])
        print(f"{arch:<10} {g:>9.2f}M {d:>9.2f}M {median * 1000:>9.1f} {median / base:>9.2f}")


if __name__ == "__main__":
    main()
