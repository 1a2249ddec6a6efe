"""Data: the resumable sampler and image grids."""

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.data import InfiniteBatchSampler, make_grid, save_image


def take(sampler: InfiniteBatchSampler, n: int) -> list[list[int]]:
    """The first n batches of a fresh iteration."""
    stream = iter(sampler)
    return [next(stream) for _ in range(n)]


# --- sampler -----------------------------------------------------------------------------------------


def test_sampler_is_randperm_of_seed_plus_epoch():
    sampler = InfiniteBatchSampler(num_items=10, batch_size=4, seed=7)
    flat = torch.tensor(take(sampler, 10)).flatten()  # 40 positions = 4 epochs
    for epoch in range(4):
        expected = torch.randperm(10, generator=torch.Generator().manual_seed(7 + epoch))
        assert torch.equal(flat[epoch * 10 : (epoch + 1) * 10], expected)


def test_sampler_is_deterministic_and_seeded():
    assert take(InfiniteBatchSampler(50, 8, seed=1), 20) == take(InfiniteBatchSampler(50, 8, seed=1), 20)
    assert take(InfiniteBatchSampler(50, 8, seed=1), 20) != take(InfiniteBatchSampler(50, 8, seed=2), 20)


@pytest.mark.parametrize("t", [1, 6, 13])
def test_sampler_resume_continues_the_same_stream(t):
    stream = take(InfiniteBatchSampler(23, 5, seed=3), 30)
    assert take(InfiniteBatchSampler(23, 5, seed=3, start_batch=t), 30 - t) == stream[t:]
    late = InfiniteBatchSampler(23, 5, seed=3)
    late.start_batch = t  # set after construction, as on resume
    assert take(late, 30 - t) == stream[t:]


@pytest.mark.parametrize("num_items,batch_size", [(12, 3), (10, 3), (5, 16)])
def test_sampler_every_index_once_per_epoch(num_items, batch_size):
    flat = torch.tensor(take(InfiniteBatchSampler(num_items, batch_size), 3 * num_items)).flatten()
    for epoch in range(3 * batch_size):
        assert torch.equal(flat[epoch * num_items : (epoch + 1) * num_items].sort().values, torch.arange(num_items))


def test_sampler_ranks_are_disjoint_and_cover_the_epoch():
    single = take(InfiniteBatchSampler(12, 3, seed=5), 8)
    ranks = [take(InfiniteBatchSampler(12, 3, seed=5, rank=r, world_size=2), 4) for r in range(2)]
    for t in range(4):  # batch t on rank r is the single-process batch 2t + r
        assert ranks[0][t] == single[2 * t] and ranks[1][t] == single[2 * t + 1]
    epoch0 = [set(ranks[r][0] + ranks[r][1]) for r in range(2)]
    assert not epoch0[0] & epoch0[1] and epoch0[0] | epoch0[1] == set(range(12))


# --- grids --------------------------------------------------------------------------------------------


def test_make_grid_pixels(tmp_path):
    gray = make_grid(torch.tensor([-1.0, 1.0, 0.0]).reshape(3, 1, 1, 1))  # 2 per row, 2 px padding
    expected = np.zeros((8, 8), dtype=np.uint8)
    expected[2, 2], expected[2, 5], expected[5, 2] = 0, 255, 128
    assert gray.mode == "L" and np.array_equal(np.asarray(gray), expected)
    rgb = make_grid(torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 3, 1, 1))
    assert rgb.mode == "RGB" and rgb.size == (5, 5) and rgb.getpixel((2, 2)) == (0, 128, 255)
    path = save_image(rgb, tmp_path / "grids" / "g.png")
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(rgb)) and list(path.parent.iterdir()) == [path]
