"""Reference values of every metric on fixed random inputs: writes tests/fixtures/parity/families/metrics.npz.

Runs the reference functions themselves, imported from local copies of their repositories (fetched by the
developer, never vendored), on fixed random features, logits and images:

| metric | repository @ commit | function |
|---|---|---|
| FID | mseitzer/pytorch-fid @ b9c18118d082cbd263c1b8963fc4221dc1cbb659 | `src/pytorch_fid/fid_score.py` `calculate_frechet_distance`, fed `np.mean(axis=0)` and `np.cov(rowvar=False)` as its `calculate_activation_statistics` does |
| KID | toshas/torch-fidelity @ 5e211a950a7b45206bd4976813ffd6aed6cf4ccc | `torch_fidelity/metric_kid.py` `kid_features_to_metric` (cubic kernel, unbiased MMD^2) |
| IS | the same | `torch_fidelity/metric_isc.py` `isc_features_to_metric` (10 splits, shuffled) |
| PRDC | clovaai/generative-evaluation-prdc @ e320c1d2811d33081361a08f595b43830b78641c | `prdc/prdc.py` `compute_prdc`, k=3 (precision, recall) and k=5 (density, coverage) |
| SWD | tkarras/progressive_growing_of_gans @ 2504c3f3cb98ca58751610ad61fa1097313152bd | `metrics/sliced_wasserstein.py` `API` (begin/feed/end: pyramid, 128 descriptors per image, 4 x 128 directions) |

The random draws the references make (KID's subsets, IS's permutation, SWD's descriptor positions and
directions) are recorded through a stand-in for the `np` of the reference module and stored, so that
tests/test_parity_metrics.py can give the same draws to our metrics and compare to 1e-6 relative.
PGGAN's SWD computes in float32, whose rounding alone moves its value by up to ~1e-5 relative; it is run
twice, as published and with the same stand-in reading np.float32 as np.float64 (same draws), and both
values are stored.
Only numpy, scipy, scikit-learn (prdc) and torch are needed: torchvision, which pytorch-fid imports at top
level, is replaced by an empty stub module, and torch-fidelity's package `__init__` (which imports its
feature extractors) is bypassed by loading `helpers.py`, `metric_kid.py` and `metric_isc.py` alone.

    python bench/parity/metrics.py --ref-root DIR   # DIR/pytorch-fid, DIR/torch-fidelity,
                                                    # DIR/generative-evaluation-prdc, DIR/progressive_growing_of_gans
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "fixtures" / "parity" / "families" / "metrics.npz"


def load_file(name: str, path: Path) -> types.ModuleType:
    """Import one source file as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def stub(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = []  # a package, so that submodules can be stubbed under it
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


class Recorder:
    """Stands in for `np` in a reference module: numpy itself, except that the random draws named in
    `record` (np.random.<fn>, RandomState.<fn>) and np.matmul's second operands are kept in `self.log`,
    and, with `float64`, np.float32 is np.float64 (the reference's code run in double precision)."""

    def __init__(self, record: tuple[str, ...] = (), float64: bool = False) -> None:
        self.log: list[tuple[str, np.ndarray]] = []
        self.float64 = float64
        recorder = self
        names = record

        class RandomState(np.random.RandomState):
            def __getattribute__(self, attr):
                fn = super().__getattribute__(attr)
                if attr in names:
                    def wrapped(*args, **kwargs):
                        out = fn(*args, **kwargs)
                        recorder.log.append((attr, np.array(out)))
                        return out
                    return wrapped
                return fn

        def draw(attr):
            def wrapped(*args, **kwargs):
                out = getattr(np.random, attr)(*args, **kwargs)
                recorder.log.append((attr, np.array(out)))
                return out
            return wrapped

        self.random = types.SimpleNamespace(**{a: getattr(np.random, a) for a in dir(np.random) if not a.startswith("_")})
        self.random.RandomState = RandomState
        for attr in names:
            if hasattr(np.random, attr):
                setattr(self.random, attr, draw(attr))

    def matmul(self, a, b):
        self.log.append(("matmul", np.array(b)))
        return np.matmul(a, b)

    def __getattr__(self, attr):
        return np.float64 if attr == "float32" and self.float64 else getattr(np, attr)

    def take(self, name: str) -> list[np.ndarray]:
        """The recorded outputs of `name`, in call order, and forget them."""
        kept = [v for n, v in self.log if n == name]
        self.log = [(n, v) for n, v in self.log if n != name]
        return kept


def features(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Correlated Gaussian 'features': 300 real and 256 fake rows of 64, the fakes shifted and rescaled."""
    mix = rng.standard_normal((64, 64)) / 8
    real = rng.standard_normal((300, 64)) @ (np.eye(64) + mix)
    fake = 1.1 * rng.standard_normal((256, 64)) @ (np.eye(64) + mix.T) + 0.2
    return real.astype(np.float32), fake.astype(np.float32)


def reference_fid(root: Path, real: np.ndarray, fake: np.ndarray) -> float:
    stub("torchvision", transforms=stub("torchvision.transforms"))
    stub("pytorch_fid")
    network = types.SimpleNamespace(BLOCK_INDEX_BY_DIM={2048: 3})  # the network: not needed for the formula
    stub("pytorch_fid.inception", InceptionV3=network)
    fid_score = load_file("ref_fid_score", root / "pytorch-fid" / "src" / "pytorch_fid" / "fid_score.py")
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    return float(fid_score.calculate_frechet_distance(np.mean(real, axis=0), np.cov(real, rowvar=False),
                                                      np.mean(fake, axis=0), np.cov(fake, rowvar=False)))


def torch_fidelity(root: Path, name: str) -> types.ModuleType:
    package = root / "torch-fidelity" / "torch_fidelity"
    if "torch_fidelity" not in sys.modules:
        stub("torch_fidelity")
        sys.modules["torch_fidelity"].__path__ = [str(package)]
        load_file("torch_fidelity.defaults", package / "defaults.py")
        load_file("torch_fidelity.deprecations", package / "deprecations.py")
        load_file("torch_fidelity.helpers", package / "helpers.py")
        stub("torch_fidelity.utils", extract_featuresdict_from_input_id_cached=None, create_feature_extractor=None,
             resolve_feature_extractor=None, resolve_feature_layer_for_metric=None)  # image I/O: not needed
    return load_file(f"torch_fidelity.{name}", package / f"{name}.py")


def reference_kid(root: Path, real: np.ndarray, fake: np.ndarray, subsets: int, subset_size: int):
    metric_kid = torch_fidelity(root, "metric_kid")
    metric_kid.np = recorder = Recorder(("choice",))
    out = metric_kid.kid_features_to_metric(torch.from_numpy(real).double(), torch.from_numpy(fake).double(),
                                            kid_subsets=subsets, kid_subset_size=subset_size, rng_seed=2020,
                                            verbose=False)
    choices = np.stack(recorder.take("choice")).reshape(subsets, 2, subset_size)  # [subset, (real, fake), m]
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"], choices


def reference_is(root: Path, logits: np.ndarray, splits: int):
    metric_isc = torch_fidelity(root, "metric_isc")
    metric_isc.np = recorder = Recorder(("permutation",))
    out = metric_isc.isc_features_to_metric(torch.from_numpy(logits), splits=splits, shuffle=True, rng_seed=2020)
    (order,) = recorder.take("permutation")
    return out["inception_score_mean"], out["inception_score_std"], order


def reference_prdc(root: Path, real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    sys.path.insert(0, str(root / "generative-evaluation-prdc"))
    from prdc.prdc import compute_prdc

    real, fake = real.astype(np.float64), fake.astype(np.float64)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        pr, dc = compute_prdc(real, fake, nearest_k=3), compute_prdc(real, fake, nearest_k=5)
    return {"precision": pr["precision"], "recall": pr["recall"], "density": dc["density"], "coverage": dc["coverage"]}


def reference_swd(root: Path, real: np.ndarray, fake: np.ndarray, minibatch: int, float64: bool):
    """PGGAN's API on reals then fakes (its code as published, or with float32 read as float64); its
    values, the descriptor centres it drew for reals and for fakes, and the directions of the fakes' pass."""
    swd = load_file("ref_sliced_wasserstein", root / "progressive_growing_of_gans" / "metrics" / "sliced_wasserstein.py")
    swd.np = recorder = Recorder(("randint", "randn"), float64=float64)
    np.random.seed(0)
    api = swd.API(len(real), real.shape[1:], real.dtype, minibatch)
    levels = len(api.resolutions)
    draws = {}
    for mode, images in (("reals", real), ("fakes", fake)):
        api.begin(mode)
        for start in range(0, len(images), minibatch):
            api.feed(mode, images[start : start + minibatch])
        xy = np.stack(recorder.take("randint")).reshape(len(images) // minibatch, levels, 2, -1)  # feed, level, (x, y)
        draws[mode] = xy.transpose(1, 2, 0, 3).reshape(levels, 2, -1).astype(np.int16)  # level, (x, y), image-major
        recorder.log.clear()
        values = api.end(mode)
        directions = recorder.take("matmul")[::2]  # each repeat projects A, then B, on the same directions
    directions = np.stack(directions).reshape(levels, api.dir_repeats, -1, api.dirs_per_repeat)
    return np.float64(values), draws["reals"], draws["fakes"], directions


def images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """64 real and 64 fake uint8 images [3, 32, 32]: smooth random fields, the fakes blurrier and brighter."""
    base = rng.standard_normal((2, n, 3, 8, 8))
    up = base.repeat(4, axis=-1).repeat(4, axis=-2) + 0.3 * rng.standard_normal((2, n, 3, 32, 32))
    real = np.clip(128 + 50 * up[0], 0, 255).astype(np.uint8)
    fake = np.clip(140 + 40 * up[1] + 0.5 * np.roll(up[1], 1, axis=-1), 0, 255).astype(np.uint8)
    return real, fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-root", type=Path, required=True, help="folder holding the four reference repositories")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(21)
    real, fake = features(rng)
    logits = (3 * rng.standard_normal((500, 10))).astype(np.float32)
    real_images, fake_images = images(rng, 64)
    kid, kid_std, kid_indices = reference_kid(args.ref_root, real, fake, subsets=10, subset_size=100)
    is_mean, is_std, is_order = reference_is(args.ref_root, logits, splits=10)
    swd, swd_real_xy, swd_fake_xy, directions32 = reference_swd(args.ref_root, real_images, fake_images, 32, False)
    swd64, real_xy64, fake_xy64, swd_directions = reference_swd(args.ref_root, real_images, fake_images, 32, True)
    # the same draws in both runs: the float32 directions are the float64 ones cast, as the reference casts them
    assert (real_xy64 == swd_real_xy).all() and (fake_xy64 == swd_fake_xy).all()
    assert (swd_directions.astype(np.float32) == directions32).all()
    prdc = reference_prdc(args.ref_root, real, fake)
    out = {
        "real": real, "fake": fake, "logits": logits, "real_images": real_images, "fake_images": fake_images,
        "fid": np.float64(reference_fid(args.ref_root, real, fake)),
        "kid": np.float64(kid), "kid_std": np.float64(kid_std), "kid_indices": kid_indices.astype(np.int16),
        "is": np.float64(is_mean), "is_std": np.float64(is_std), "is_order": is_order.astype(np.int16),
        **{k: np.float64(v) for k, v in prdc.items()},
        "swd": swd, "swd_float64": swd64, "swd_real_xy": swd_real_xy, "swd_fake_xy": swd_fake_xy,
        "swd_directions": swd_directions,
        "swd_nhood": np.int64(7), "swd_minibatch": np.int64(32),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    for key in ("fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage"):
        print(f"  {key:10s} {float(out[key]):.10g}")
    print("  swd        (float32, as published)", ", ".join(f"{v:.10g}" for v in swd))
    print("  swd        (float64)", ", ".join(f"{v:.10g}" for v in swd64))


if __name__ == "__main__":
    main()
