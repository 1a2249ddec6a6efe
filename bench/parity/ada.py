"""Parity fixture for ADA's augmentation: the reference AugmentPipe at fixed p, its random draws recorded.

Reference: NVlabs/stylegan2-ada-pytorch, commit d72cc7d041b42ec8e806021a205ed9349f87c6a4, `training/augment.py`
(`AugmentPipe`, the `bgc` pipeline of `train.py`'s `augpipe_specs`). On CPU its upfirdn2d and grid_sample
fall back to their pure-PyTorch paths, so nothing is compiled; its `torch_utils` and `dnnlib` are imported
from the checkout as they are.

For each case the script seeds torch, runs the reference pipe on a few small images while recording every
torch.rand / torch.randn it draws (in order), and writes to tests/fixtures/parity/families/ada.npz:
`config` (JSON: per case p, the multipliers, shape), `in/<case>` (the images), `uniform/<case>` and
`normal/<case>` (the draws, flattened in draw order) and `out/<case>` (the reference's output).
tests/test_parity_ada.py replays the draws through our AdaptiveAugment.augment and compares.

    python bench/parity/ada.py --ref /path/to/stylegan2-ada-pytorch
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity" / "families" / "ada.npz"
BGC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
       "brightness", "contrast", "lumaflip", "hue", "saturation")

# name: (p, multipliers (op -> 1), [N, C, H, W]); the whole pipeline at several p, grey and non-square
# images, and each transform alone at p = 1 (so a failure names the transform)
CASES = {
    "bgc_p0.5_rgb": (0.5, BGC, [6, 3, 16, 16]),
    "bgc_p1_rgb": (1.0, BGC, [6, 3, 16, 16]),
    "bgc_p1_grey": (1.0, BGC, [6, 1, 16, 16]),
    "bgc_p0.3_rgb_12x20": (0.3, BGC, [4, 3, 12, 20]),
    **{f"{op}_p1_rgb": (1.0, (op,), [4, 3, 8, 8]) for op in BGC},
}


def record(function):
    """torch.rand / torch.randn that keep a copy of every draw."""
    draws = []

    def drawing(*args, **kwargs):
        out = function(*args, **kwargs)
        draws.append(out.detach().clone().flatten())
        return out
    return drawing, draws


def run_case(AugmentPipe, p: float, ops: tuple, shape: list[int], seed: int) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)
    images = torch.rand(shape) * 2 - 1  # [-1, 1], as D sees them
    pipe = AugmentPipe(**{op: 1 for op in ops})
    pipe.p.copy_(torch.tensor(p))
    rand, randn = torch.rand, torch.randn
    torch.rand, uniform = record(rand)
    torch.randn, normal = record(randn)
    try:
        out = pipe(images)
    finally:
        torch.rand, torch.randn = rand, randn
    flat = lambda draws: torch.cat(draws).numpy() if draws else np.zeros(0, np.float32)  # noqa: E731
    return {"in": images.numpy(), "uniform": flat(uniform), "normal": flat(normal), "out": out.numpy()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, type=Path, help="local checkout of stylegan2-ada-pytorch")
    ref = parser.parse_args().ref
    if not (ref / "training" / "augment.py").is_file():
        sys.exit(f"{ref}/training/augment.py not found: pass --ref the root of a stylegan2-ada-pytorch checkout")
    sys.path.insert(0, str(ref))
    from training.augment import AugmentPipe

    arrays, config = {}, {}
    for i, (name, (p, ops, shape)) in enumerate(CASES.items()):
        case = run_case(AugmentPipe, p, ops, shape, seed=i)
        for key, value in case.items():
            arrays[f"{key}/{name}"] = value
        config[name] = {"p": p, "ops": list(ops), "shape": shape}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, config=np.array(json.dumps(config)), **arrays)
    print(f"{OUT}: {len(CASES)} cases, {OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
