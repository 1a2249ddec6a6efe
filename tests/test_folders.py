"""Folder-vs-folder metrics: `python -m gan_lightning.evaluate fakes=DIR reals=DIR`, and pytorch-fid statistics."""
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from PIL import Image
from scipy import linalg

from gan_lightning.errors import ConfigError
from gan_lightning.evaluate import evaluate
from gan_lightning.metrics import RandomFeatures

REPO = Path(__file__).resolve().parents[1]


def write_pngs(folder: Path, n: int, seed: int, shift: int = 0) -> np.ndarray:
    folder.mkdir(parents=True)
    images = np.random.default_rng(seed).integers(0, 200, (n, 16, 16, 3), dtype=np.uint8) + shift
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return images


def evaluate_cfg(*overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("evaluate", overrides=["metrics=fid", "device=cpu", "progress=false", "batch_size=7",
                                             *overrides])
    with open_dict(cfg):
        cfg.metrics.features = {"inception": {"_target_": "gan_lightning.metrics.RandomFeatures", "dim": 8}}
    return cfg


def pytorch_fid_formula(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al.'s distance as pytorch-fid's calculate_frechet_distance computes it (scipy's sqrtm)."""
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def features(images: np.ndarray) -> np.ndarray:
    return RandomFeatures(dim=8)(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()).double().numpy()


def test_fid_of_two_folders_equals_the_reference_formula_on_the_same_features(tmp_path):
    fakes = write_pngs(tmp_path / "fakes", 40, seed=1, shift=30)
    reals = write_pngs(tmp_path / "reals", 50, seed=2)
    record = evaluate(evaluate_cfg(f"fakes={tmp_path / 'fakes'}", f"reals={tmp_path / 'reals'}", "metrics=[fid,kid]"))
    expected = pytorch_fid_formula(features(reals), features(fakes))
    assert record["values"]["fid"] == pytest.approx(expected, rel=1e-6)
    assert record["values"]["fid"] > 0.1 and "kid" in record["values"]
    assert (tmp_path / "fakes.metrics.json").is_file()


def test_saved_statistics_are_pytorch_fids_format_and_give_the_same_fid(tmp_path):
    fakes = write_pngs(tmp_path / "fakes", 30, seed=3, shift=20)
    reals = write_pngs(tmp_path / "reals", 45, seed=4)
    stats = tmp_path / "stats.npz"
    evaluate(evaluate_cfg(f"reals={tmp_path / 'reals'}", f"save_stats={stats}"))
    with np.load(stats) as data:
        assert set(data.files) == {"mu", "sigma"} and data["sigma"].shape == (8, 8)
        np.testing.assert_allclose(data["mu"], features(reals).mean(0), rtol=1e-6)
        # float32 features: the reals arrive in the seeded chosen order, so sums round differently (~1e-6)
        np.testing.assert_allclose(data["sigma"], np.cov(features(reals), rowvar=False), rtol=1e-5, atol=1e-5)
    record = evaluate(evaluate_cfg(f"fakes={tmp_path / 'fakes'}", f"reals={stats}"))
    assert record["values"]["fid"] == pytest.approx(pytorch_fid_formula(features(reals), features(fakes)), rel=1e-6)


def test_statistics_give_fid_only_and_a_missing_ckpt_is_one_line(tmp_path):
    write_pngs(tmp_path / "fakes", 4, seed=5)
    np.savez(tmp_path / "stats.npz", mu=np.zeros(8), sigma=np.eye(8))
    with pytest.raises(ConfigError, match="holds statistics, which give FID only"):
        evaluate(evaluate_cfg(f"fakes={tmp_path / 'fakes'}", f"reals={tmp_path / 'stats.npz'}", "metrics=[fid,kid]"))
    with pytest.raises(ConfigError, match="ckpt must be set; accepted: a checkpoint written by train.py"):
        evaluate(evaluate_cfg())
