"""Metric math against numpy/scipy by hand: FID, KID, SWD, precision/recall/density/coverage, MS-SSIM, cache key."""
import itertools

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.metrics import (
    FID,
    KID,
    MSSSIM,
    SWD,
    InceptionScore,
    MetricSuite,
    PrecisionRecall,
    RandomFeatures,
)
from gan_lightning.metrics.cache import key_name, load_features, real_key, save_features
from gan_lightning.metrics.diversity import inception_score, ms_ssim, ms_ssim_weights
from gan_lightning.metrics.frechet import kid_subsets
from gan_lightning.metrics.prdc import prdc
from gan_lightning.metrics.suite import rename, shard
from gan_lightning.metrics.swd import (
    descriptors,
    laplacian_pyramid,
    pyramid_levels,
    sliced_wasserstein,
)


def whitened(n: int, d: int, seed: int) -> np.ndarray:
    """n samples whose sample mean is exactly 0 and sample covariance (ddof=1) exactly the identity."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    z -= z.mean(axis=0)
    return z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T


def feed(metric, real, fake):
    metric.update(torch.as_tensor(real), real=True)
    metric.update(torch.as_tensor(fake), real=False)
    return metric.compute()


def test_fid_of_two_gaussians_is_the_closed_form():
    d = 4
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.5])
    var1, var2 = np.array([1.0, 2.0, 0.5, 4.0]), np.array([2.0, 2.0, 1.5, 1.0])
    x = mu1 + whitened(400, d, 0) * np.sqrt(var1)  # sample mean/cov are exactly mu, diag(var)
    y = mu2 + whitened(300, d, 1) * np.sqrt(var2)
    closed_form = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert_close(feed(FID("f"), x, y)["fid"], closed_form, rtol=1e-5, atol=1e-5)


def test_fid_of_correlated_features_matches_scipy_sqrtm():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 5)) @ rng.standard_normal((5, 5))
    y = rng.standard_normal((150, 5)) @ rng.standard_normal((5, 5)) + 0.5
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    by_hand = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert_close(feed(FID("f"), x, y)["fid"], by_hand, rtol=1e-5, atol=1e-5)


def mmd_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, as plain loops."""
    k = lambda a, b: (a @ b / len(a) + 1) ** 3
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_estimator_averaged_over_subsets():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((12, 3)) + 0.3
    whole = feed(KID("f", subsets=1, subset_size=10), x[:10], y[:10])
    assert_close(whole["kid"], mmd_by_hand(x[:10], y[:10]))
    values = kid_subsets(torch.as_tensor(x), torch.as_tensor(y), subsets=3, subset_size=6, seed=5)
    g = torch.Generator().manual_seed(5)  # the same draws, by hand
    expected = []
    for _ in range(3):
        i, j = torch.randperm(10, generator=g)[:6].numpy(), torch.randperm(12, generator=g)[:6].numpy()
        expected.append(mmd_by_hand(x[i], y[j]))
    assert_close(values, torch.tensor(expected, dtype=torch.float64))


def test_kid_std_is_the_population_std_of_the_subset_values_as_torch_fidelity():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 3)) + 0.3
    result = feed(KID("f", subsets=4, subset_size=6, seed=1), x, y)
    values = kid_subsets(torch.as_tensor(x), torch.as_tensor(y), subsets=4, subset_size=6, seed=1).numpy()
    assert_close(result["kid_std"], float(np.std(values)))  # ddof 0


def test_inception_score_of_one_hot_logits_is_the_number_of_classes_per_split():
    logits = torch.eye(5).repeat(4, 1) * 100  # each split of 10 rows holds every class twice: IS = 5
    mean, std = inception_score(logits, splits=2)
    assert_close(mean, 5.0)
    assert_close(std, 0.0)
    skewed = torch.cat([logits[:10], torch.eye(5)[[0] * 10] * 100])  # second split: one class, IS 1
    mean, std = inception_score(skewed, splits=2)
    assert_close(mean, 3.0)
    assert_close(std, 2.0)  # population std of (5, 1)


def images(n: int, seed: int, size: int = 32, channels: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def small_swd() -> SWD:
    return SWD(nhoods_per_image=8, repeats=1, directions=16)


def test_swd_of_identical_sets_is_zero_and_of_shifted_sets_positive():
    x = images(8, 0)
    same = feed(small_swd(), x, x.clone())
    assert set(same) == {"swd/32", "swd/16", "swd"}
    for value in same.values():
        assert_close(value, 0.0)
    smooth = torch.nn.functional.avg_pool2d(x.float(), 3, 1, 1).round().to(torch.uint8)  # other statistics
    shifted = feed(small_swd(), x, smooth)
    assert shifted["swd/32"] > 1 and shifted["swd"] > 1


def test_swd_draws_128_random_positions_per_image_and_level_as_pggan():
    metric = SWD()
    assert metric.nhoods_per_image == 128
    top, left = metric.positions(0, (32, 32), 3, real=True, start=0)
    assert top.shape == left.shape == (3, 128) and int(top.max()) <= 32 - 7 and int(left.min()) >= 0
    assert not torch.equal(top[0], top[1])  # each image has its own positions
    later, _ = metric.positions(0, (32, 32), 3, real=True, start=3)
    assert not torch.equal(top, later)  # and every chunk its own
    level = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).reshape(2, 3, 10, 10)
    t, lft = torch.tensor([[0, 3], [1, 2]]), torch.tensor([[2, 0], [3, 1]])
    desc = descriptors(level, t, lft, 7).reshape(2, 2, 3, 7, 7)  # PGGAN's layout: channel, column, row
    assert_close(desc[1, 0, 2, 4, 5], level[1, 2, 1 + 5, 3 + 4])


def test_swd_fed_in_chunks_at_their_positions_equals_one_process():
    x, y = images(8, 0), images(8, 1)
    whole = feed(small_swd(), x, y)
    split = small_swd()
    for start in (0, 4):  # what two ranks feed, one chunk each
        split.update_at(x[start : start + 4], True, start)
        split.update_at(y[start : start + 4], False, start)
    assert split.compute() == whole


def test_sliced_wasserstein_of_a_translated_set_is_the_mean_projected_shift():
    a = torch.randn(50, 6, dtype=torch.float64)
    c = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0, 1.0], dtype=torch.float64)
    d = torch.randn(6, 16, generator=torch.Generator().manual_seed(9)).double()  # the directions it draws
    d = d / d.norm(dim=0)
    assert_close(sliced_wasserstein(a, a + c, repeats=1, directions=16, seed=9), (c @ d).abs().mean())


def test_laplacian_pyramid_levels_and_a_flat_image_has_no_detail():
    assert [pyramid_levels(r) for r in (16, 32, 64, 128)] == [1, 2, 3, 4]
    flat = torch.full((2, 3, 32, 32), 7.0)
    bands = laplacian_pyramid(flat, 2)
    assert [b.shape[-1] for b in bands] == [32, 16]
    assert_close(bands[0], torch.zeros_like(flat))  # no detail beyond the blurred copy
    assert_close(bands[1], torch.full((2, 3, 16, 16), 7.0))


def prdc_by_hand(x: np.ndarray, y: np.ndarray, k: int, density_k: int) -> dict:
    dist = lambda a, b: np.linalg.norm(a[:, None] - b[None], axis=-1)
    rx = np.sort(dist(x, x), axis=1)[:, k]
    ry = np.sort(dist(y, y), axis=1)[:, k]
    dx = np.sort(dist(x, x), axis=1)[:, density_k]
    dxy = dist(y, x)  # [fake, real]
    return {"precision": np.mean((dxy < rx[None]).any(1)), "recall": np.mean((dxy.T < ry[None]).any(1)),
            "density": (dxy < dx[None]).sum() / (density_k * len(y)), "coverage": np.mean(dxy.min(0) < dx)}


def test_precision_recall_density_coverage_match_a_brute_force_loop():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 2)), rng.standard_normal((25, 2)) * 1.3 + 0.4
    ours = feed(PrecisionRecall("f", k=3, density_k=3), x, y)
    for key, value in prdc_by_hand(x, y, 3, 3).items():
        assert_close(ours[key], float(value), msg=key)


def test_density_and_coverage_use_k_5_and_precision_recall_k_3_by_default():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((35, 3)) * 1.2 + 0.3
    ours = feed(PrecisionRecall("f"), x, y)
    expected = prdc_by_hand(x, y, 3, 5)
    assert expected["density"] != prdc_by_hand(x, y, 3, 3)["density"]  # the choice of k shows
    for key, value in expected.items():
        assert_close(ours[key], float(value), msg=key)


def test_precision_recall_of_identical_and_of_disjoint_sets():
    x = torch.randn(40, 4, dtype=torch.float64)
    same = prdc(x, x.clone(), k=3)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = prdc(x, x + 100, k=3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_ms_ssim_of_identical_images_is_one_and_scales_fit_the_size():
    for size in (32, 64):
        x = images(4, 1, size)
        assert_close(ms_ssim(x, x.clone()), torch.ones(4))
        assert (ms_ssim(x, images(4, 2, size)) < 0.5).all()
    assert len(ms_ssim_weights(32)) == 2 and len(ms_ssim_weights(64)) == 3 and len(ms_ssim_weights(256)) == 5
    assert_close(sum(ms_ssim_weights(64)), 1.0)
    metric = MSSSIM()
    x = images(4, 3)
    result = feed(metric, x[:2].repeat_interleave(2, dim=0), x)  # real pairs identical, fake pairs different
    assert_close(result["msssim_real"], 1.0)
    assert result["msssim"] < 0.5 and metric.settings()["scales"] == 2


def test_inception_score_without_torch_fidelity_reports_why(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch_fidelity" else real_find_spec(name, *a))
    metric = InceptionScore()
    assert "logits" in metric.unavailable and "torch-fidelity is not installed" in metric.unavailable
    suite = MetricSuite({"is": metric, "msssim": MSSSIM()}, n_samples=4, batch_size=4, cache=False)
    values, provenance = suite.evaluate(lambda start, size: images(size, start), images(8, 9), {"name": "x"})
    assert "is" not in values and "msssim" in values
    assert provenance["metrics"]["is"]["unavailable"] == metric.unavailable


def test_cache_key_names_every_part_and_changes_with_each():
    dataset = {"name": "MNIST", "source": "/data/mnist.npz", "split": "train", "resolution": 32, "channels": 1,
               "size": 60000}
    net = RandomFeatures(dim=4)
    base = key_name(real_key(dataset, net, 100, 0))
    assert base.startswith("mnist-train-32px-c1-random-conv-") and "-n100-" in base
    variants = [real_key({**dataset, part: value}, net, 100, 0) for part, value in
                [("name", "CIFAR-10"), ("source", "/other"), ("split", "test"), ("resolution", 64),
                 ("channels", 3), ("size", 5000), ("config", {"crop_size": 108}),
                 ("files", {"/data/mnist.npz": {"bytes": 1, "mtime": 2, "files": 1}})]]
    variants.append(real_key(dataset, net, 100, 0, pixels="0" * 64))
    variants += [real_key(dataset, net, 200, 0), real_key(dataset, net, 100, 1),
                 real_key(dataset, RandomFeatures(dim=4, seed=1), 100, 0)]  # other weights, same name
    other_name = RandomFeatures(dim=4)
    other_name.name = "inception-v3-fid"
    variants.append(real_key(dataset, other_name, 100, 0))
    names = [key_name(k) for k in variants]
    assert base not in names and len(set(names)) == len(names)


def test_cached_features_round_trip_and_a_foreign_key_is_ignored(tmp_path):
    key = real_key({"name": "x", "split": "train"}, RandomFeatures(), 3, 0)
    features = torch.randn(3, 16)
    save_features(tmp_path, key, features)
    assert_close(load_features(tmp_path, key), features)
    path = tmp_path / key_name(key)
    torch.save({"key": {**key, "n": 4}, "features": features}, path)  # a file that claims another key
    assert load_features(tmp_path, key) is None


def test_chunks_are_sharded_contiguously_and_cover_every_image():
    for n, batch, world in itertools.product((7, 32, 33, 50), (2, 4, 16), (1, 2, 3)):
        chunks = [shard(n, batch, r, world) for r in range(world)]
        flat = [c for rank in chunks for c in rank]
        assert all(chunks) and sum(size for _, size in flat) == n
        assert [start for start, _ in flat] == sorted(start for start, _ in flat)
        assert all(size % 2 == 0 for _, size in flat[:-1]) and max(size for _, size in flat) <= max(batch, 2) + 2
    assert shard(32, 16, 0, 1) == [(0, 16), (16, 16)] and shard(32, 16, 1, 2) == [(16, 16)]
    with pytest.raises(ConfigError, match="metrics.n_samples=3 is too small for 2 processes"):
        shard(3, 16, 0, 2)


def test_metric_keys_are_renamed_for_a_second_instance():
    assert rename({"fid": 1.0}, "fid", "fid") == {"fid": 1.0}
    assert rename({"fid": 1.0}, "fid", "fid_mnist") == {"fid_mnist": 1.0}
    assert rename({"precision": 0.5}, "pr", "pr_mnist") == {"pr_mnist/precision": 0.5}
