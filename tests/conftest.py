"""Shared fixtures: compose the real Hydra config with overrides, writing into a temporary run directory."""
import os
from pathlib import Path

import pytest

from gan_lightning.run.config import compose

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Narrow nets and a few hundred images: the config a test trains with unless it says otherwise.
TINY = [
    "z_dim=16",
    "batch_size=8",
    "total_kimg=0.04",
    "callbacks.preview.every_kimg=0.016",
    "callbacks.preview.num_samples=4",
    "callbacks.checkpoint.every_kimg=0.016",
    "trainer.accelerator=cpu",
    "trainer.enable_model_summary=false",
    "trainer.enable_progress_bar=false",
    "metrics.n_samples=64",  # the default domain metrics (MNIST, toys) at the end of a run, on few samples
]

# Narrow widths per architecture (appended after arch=<name>).
ARCH_TINY = {
    "dcgan": ["arch.generator.channels=8", "arch.discriminator.channels=8"],
    "sndcgan": ["arch.generator.channels=8", "arch.discriminator.channels=8"],
    "mlp": ["arch.generator.hidden_sizes=[32,32]", "arch.discriminator.hidden_sizes=[32,32]"],
    "pggan": ["arch.generator.channel_base=64", "arch.generator.max_channels=8",
              "arch.discriminator.channel_base=64", "arch.discriminator.max_channels=8",
              "arch.schedule.stable_kimg=0.008", "arch.schedule.transition_kimg=0.008"],
    **{arch: [f"arch.{role}.{key}=8" for role in ("generator", "discriminator") for key in ("channels", "max_channels")]
       for arch in ("resnet", "resnet19", "sagan", "selfmod", "biggan")},
    "stylegan": ["arch.generator.w_dim=16", "arch.generator.channels=8", "arch.generator.max_channels=16",
                 "arch.discriminator.channels=8", "arch.discriminator.max_channels=16"],
}
ARCH_TINY["r3gan"] = [f"arch.{role}.{key}={value}" for role in ("generator", "discriminator")
                      for key, value in (("width", 8), ("cardinality", 2), ("blocks", 1))]
ARCH_TINY["began"] = ["arch.generator.channels=8", "arch.discriminator.channels=8", "arch.discriminator.h_dim=8"]
# the bundled photo at 40x27: 4 scales from a short side of 12; batches of the one image
ARCH_TINY["singan"] = ["dataset=single_image", "dataset.max_size=40", "arch.min_size=12", "arch.generator.width=4",
                       "arch.generator.max_width=8", "arch.generator.width_every=2"]
ARCH_TINY["selfmod"] += ["arch.generator.hidden=4"]
ARCH_TINY["biggan"] += ["arch.generator.shared_dim=8"]


def tiny(arch: str = "dcgan", *overrides: str) -> list[str]:
    """Overrides for a tiny run of `arch`."""
    return [f"arch={arch}", *ARCH_TINY[arch], *TINY, *overrides]


@pytest.fixture
def tiny_cfg(tmp_path):
    """A factory: tiny_cfg(arch, *overrides) composes the tiny config writing into tmp_path."""
    return lambda arch="dcgan", *overrides: compose(tiny(arch, *overrides), tmp_path)


@pytest.fixture
def tiny_dataset_roots(tmp_path) -> dict[str, list[str]]:
    """Overrides pointing the datasets that need files at a few generated PNGs (`train/<class>/*.png`)."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "images"
    for label in ("cat", "dog"):
        (root / "train" / label).mkdir(parents=True)
        for i in range(2):
            pixels = np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "train" / label / f"{i}.png")
    folder = [f"dataset.root={root}", "dataset.resolution=32"]
    return {"cifar10": [f"dataset.root={root}"], "folder": folder, "celeba": folder, "celeba_hq": folder,
            "lsun": [f"dataset.root={tmp_path / 'lsun'}", "dataset.resolution=32"]}  # not read: only built
