"""SinGAN's coarse-to-fine schedule on the images-seen clock, and its samples after training.

`ScaleSchedule`: each scale trains for `kimg_per_scale` (the last one to the end of the run); the scale and
the lr (Adam's rate, times `lr_decay` from `lr_decay_at` of each scale on, as the official code's MultiStepLR
at 1600 of 2000 steps) are pure functions of `nimg`. Before every batch it calls `grow(scale, real)` on each
child net that has it (the nets copy weights and set the noise amplitude once, when they enter a scale, and
keep the scale in their state dict, so a resumed run does not do it twice) and shrinks the reals to the
scale (the datamodule's `real_transform` hook, as progressive growing does).
`PyramidSamples`: at the end, random samples at the image's size and at other aspect ratios, the
reconstruction, and one picture with the training image beside them.
"""
from functools import partial
from pathlib import Path

import lightning as L
import torch
from PIL import Image

from gan_lightning.data.images import make_grid, save_image
from gan_lightning.errors import ConfigError
from gan_lightning.nets.singan import pyramid_sizes, resize
from gan_lightning.training.callbacks.log import log_image
from gan_lightning.training.callbacks.progressive import check_hooks, set_learning_rates


def pyramid_kimg(img_size: list[int], min_size: int, scale_factor: float, kimg_per_scale: float) -> float:
    """The run length that trains every scale for `kimg_per_scale` (the `gan.pyramid_kimg` resolver)."""
    return round(len(pyramid_sizes(list(img_size), min_size, scale_factor)) * kimg_per_scale, 6)


class ScaleSchedule(L.Callback):
    """Trains scale k of the pyramid for images [k, k + 1) * kimg_per_scale; the last scale to the end of the run."""

    def __init__(self, img_size: list[int], kimg_per_scale: float, min_size: int = 25, scale_factor: float = 0.75,
                 lr_decay: float = 0.1, lr_decay_at: float = 0.8) -> None:
        self.sizes = pyramid_sizes(list(img_size), min_size, scale_factor)
        if not isinstance(kimg_per_scale, (int, float)) or kimg_per_scale <= 0:
            raise ConfigError(f"callbacks.singan.kimg_per_scale={kimg_per_scale!r} is not supported; "
                              "accepted: a number > 0")
        if not 0 <= lr_decay_at <= 1:
            raise ConfigError(f"callbacks.singan.lr_decay_at={lr_decay_at!r} is not supported; accepted: 0 to 1 "
                              "(a fraction of each scale's images)")
        self.scale_nimg = max(1, round(kimg_per_scale * 1000))
        self.lr_decay, self.lr_decay_at = lr_decay, lr_decay_at

    def scale_at(self, nimg: int) -> int:
        """The scale trained by the batch that starts at `nimg`."""
        return min(nimg // self.scale_nimg, len(self.sizes) - 1)

    def lr_factor_at(self, nimg: int) -> float:
        """The factor on the configured lr for the batch that starts at `nimg`."""
        into = nimg - self.scale_at(nimg) * self.scale_nimg
        return self.lr_decay if into >= self.lr_decay_at * self.scale_nimg else 1.0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = check_hooks(trainer, "callbacks.singan")
        datamodule.real_transform = partial(self.shrink_reals, pl_module)

    def shrink_reals(self, pl_module: L.LightningModule, real: torch.Tensor) -> torch.Tensor:
        """Reals at the size of this batch's scale (runs before on_train_batch_start, so from nimg). [N, C, h, w]"""
        return resize(real, self.sizes[self.scale_at(pl_module.nimg)]).clamp(-1, 1)

    def apply(self, trainer: L.Trainer, pl_module: L.LightningModule) -> int:
        """Set the scale at the module's clock on every child net that grows, and the lr."""
        scale = self.scale_at(pl_module.nimg)
        real = trainer.datamodule.real_samples(1).to(pl_module.device)  # [1, C, H, W], the full-size image
        for net in pl_module.children():
            if callable(getattr(net, "grow", None)):
                net.grow(scale, real)
        set_learning_rates(trainer, "singan", factor=self.lr_factor_at(pl_module.nimg))
        return scale

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.apply(trainer, pl_module)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        scale = self.apply(trainer, pl_module)
        pl_module.last_logs.update({
            "schedule/scale": torch.tensor(float(scale)),
            "schedule/lr_factor": torch.tensor(self.lr_factor_at(pl_module.nimg)),
        })


def montage(rows: list[list[torch.Tensor]], padding: int = 4) -> Image.Image:
    """Images [C, h, w] in [-1, 1] of any sizes, pasted left to right in rows on a white background."""
    tiles = [[make_grid(x[None], padding=0) for x in row] for row in rows]
    width = max(sum(t.width for t in row) + padding * (len(row) + 1) for row in tiles)
    height = sum(max(t.height for t in row) for row in tiles) + padding * (len(tiles) + 1)
    canvas = Image.new(tiles[0][0].mode, (width, height), "white")
    top = padding
    for row in tiles:
        left = padding
        for tile in row:
            canvas.paste(tile, (left, top))
            left += tile.width + padding
        top += max(t.height for t in row) + padding
    return canvas


class PyramidSamples(L.Callback):
    """After training: `random.png`, `random_<h>x<w>.png` per aspect, `reconstruction.png` and `singan.png`."""

    def __init__(self, dirpath: str, num_samples: int = 8, aspects: list[list[float]] | None = None,
                 seed: int = 0) -> None:
        self.dirpath = Path(dirpath)
        self.num_samples = num_samples
        self.aspects = [tuple(map(float, a)) for a in (aspects if aspects is not None else [[1.0, 2.0]])]
        for aspect in self.aspects:
            if len(aspect) != 2 or min(aspect) <= 0:
                raise ConfigError(f"callbacks.singan_samples.aspects has {list(aspect)!r}; accepted: pairs "
                                  "[height factor, width factor] of numbers > 0, e.g. [[1, 2], [1.5, 1]]")
        self.seed = seed

    @torch.no_grad()
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        G = pl_module.ema_generator()
        if not callable(getattr(G, "sample", None)) or not callable(getattr(G, "reconstruct", None)):
            raise ConfigError(f"callbacks.singan_samples needs a generator with sample() and reconstruct() "
                              f"(arch=singan); got {type(G).__name__}")
        generator = torch.Generator().manual_seed(self.seed)
        reconstruction = G.reconstruct().cpu()  # [1, C, h, w]
        real = resize(trainer.datamodule.real_samples(1), tuple(reconstruction.shape[-2:])).clamp(-1, 1)
        same = G.sample(self.num_samples, generator=generator).cpu()
        files = {"random.png": make_grid(same, cols=min(4, self.num_samples)),
                 "reconstruction.png": make_grid(torch.cat([real, reconstruction]), cols=2)}
        rows = [[real[0], *same[:3]]]  # the training image, then samples at its size
        for height, width in self.aspects:
            other = G.sample(max(2, self.num_samples // 4), height, width, generator=generator).cpu()
            files[f"random_{height:g}x{width:g}.png"] = make_grid(other, cols=2)
            rows.append(list(other[:2]))
        files["singan.png"] = montage(rows)
        for name, image in files.items():
            save_image(image, self.dirpath / name)
        log_image(trainer, "samples/singan", files["singan.png"], pl_module.nimg)
