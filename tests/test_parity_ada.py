"""ADA's augmentation equals the reference AugmentPipe (NVlabs/stylegan2-ada-pytorch `training/augment.py`)
given the same images, p and random draws (tests/fixtures/parity/families/ada.npz, from bench/parity/ada.py)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.objectives.ada import OPS, AdaptiveAugment

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "parity" / "families" / "ada.npz")
CONFIG = json.loads(str(FIXTURE["config"]))


def replay(stream: np.ndarray):
    """A draw function handing out `stream` in order; `.left()` says how much was not used."""
    values, position = torch.from_numpy(stream), [0]

    def draw(shape: list[int]) -> torch.Tensor:
        n = int(np.prod(shape))
        assert position[0] + n <= len(values), "more draws than the reference made"
        out = values[position[0]: position[0] + n].reshape(shape)
        position[0] += n
        return out
    draw.left = lambda: len(values) - position[0]
    return draw


@pytest.mark.parametrize("case", CONFIG)
def test_same_output_as_the_reference_augment_pipe(case):
    setting = CONFIG[case]
    images = torch.from_numpy(FIXTURE[f"in/{case}"])
    augment = AdaptiveAugment(p=setting["p"], img_channels=images.shape[1],
                              probability={op: float(op in setting["ops"]) for op in OPS})
    uniform, normal = replay(FIXTURE[f"uniform/{case}"]), replay(FIXTURE[f"normal/{case}"])
    out = augment.augment(images, uniform, normal)
    assert uniform.left() == 0 and normal.left() == 0  # the same draws, in the same order
    # float32 matrices built in the same order; bilinear sampling amplifies rounding of the coordinates
    assert_close(out, torch.from_numpy(FIXTURE[f"out/{case}"]), atol=1e-5, rtol=0)
