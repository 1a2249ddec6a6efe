"""Sample a checkpoint: `python -m gan_lightning.generate ckpt=<path> n=64 [pngs=true] [interpolation=8] [truncation=0.7]`.

Writes a grid (`grid.png`), optionally n single PNGs (`images/000000.png`, what other FID tools read) and
a latent interpolation strip (`interpolation.png`: 4 rows of spherical interpolation between two z).
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from torch import Tensor

from gan_lightning.data.images import check_channels, make_grid, save_image
from gan_lightning.errors import ConfigError
from gan_lightning.run.cli import one_line_errors, pick_device, require_ckpt, unparsable
from gan_lightning.training.checkpoint_io import load_module


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows a, b [R, D] at fractions t [S]: [R, S, D]."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(dim=1).clamp(-1, 1))[:, None, None]  # [R, 1, 1]
    t = t[None, :, None]
    sin = torch.sin(omega).clamp_min(1e-8)
    return (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / sin


def interpolation_strip(module, steps: int, seed: int, ema: bool, rows: int = 4, **g_kwargs) -> Tensor:
    """Images [rows * steps, C, H, W]: each row walks from one latent to another (the same label per row)."""
    g = torch.Generator().manual_seed(seed + 1)
    z0, z1 = torch.randn(rows, module.z_dim, generator=g), torch.randn(rows, module.z_dim, generator=g)
    z = slerp(z0, z1, torch.linspace(0, 1, steps)).reshape(rows * steps, -1).to(module.device)
    c_dim = getattr(module.generator, "c_dim", 0)
    c = (torch.arange(rows) % c_dim).repeat_interleave(steps).to(module.device) if c_dim else None
    net = module.ema_generator() if ema else module.generator.eval()
    with torch.no_grad():
        return net(z, c, **g_kwargs).cpu()


def generate(cfg: DictConfig) -> Path:
    """Write the requested images; returns the output folder."""
    require_ckpt(cfg, "generate", "n=64")
    if not isinstance(cfg.n, int) or cfg.n < 1:
        raise ConfigError(f"n={cfg.n!r} is not supported; accepted: an integer >= 1")
    module = load_module(cfg.ckpt, map_location=pick_device(cfg.device))
    module.generator.eval()
    check_channels(module.generator.img_channels, name="the checkpoint's image channels (generate writes images)")
    out = Path(cfg.out_dir) if cfg.out_dir else Path(cfg.ckpt).resolve().parent.parent / "generated"
    options = {} if cfg.truncation is None else {"truncation": cfg.truncation}
    images = module.generate(cfg.n, seed=cfg.seed, ema=cfg.ema, **options).cpu()
    if cfg.grid:
        print(f"grid: {save_image(make_grid(images), out / 'grid.png')}")
    if cfg.pngs:
        for i, image in enumerate(images):
            save_image(make_grid(image[None], padding=0), out / "images" / f"{i:06d}.png")
        print(f"{cfg.n} images: {out / 'images'}")
    if cfg.interpolation:
        strip = interpolation_strip(module, cfg.interpolation, cfg.seed, cfg.ema, **options)
        print(f"interpolation: {save_image(make_grid(strip, cols=cfg.interpolation), out / 'interpolation.png')}")
    return out


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    one_line_errors(generate, cfg)


if __name__ == "__main__":
    if (message := unparsable(sys.argv[1:])) is not None:  # Hydra's own error is a lexer traceback
        sys.exit(f"error: {message}")
    main()
