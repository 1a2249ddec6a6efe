"""Metrics in training (logs, best.ckpt, resume), under two-process DDP, and the evaluate/generate commands."""
import csv
import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict
from PIL import Image
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.metrics import MetricSuite
from gan_lightning.training.callbacks.metrics import (
    MetricsCallback,
    describe_dataset,
    fake_images,
    real_images,
)
from gan_lightning.training.checkpoint_io import load_module
from tests.conftest import REPO, compose, tiny
from tests.test_module import fit


def random_features(cfg):
    """The composed config with a tiny random feature network in place of the FID Inception network
    (which runs at ~1-15 images/s on these CPUs)."""
    with open_dict(cfg):
        if "inception" in cfg.metrics.features:
            cfg.metrics.features.inception = {"_target_": "gan_lightning.metrics.RandomFeatures", "dim": 8}
    return cfg


SMALL = ["metrics.list.swd.nhoods_per_image=8", "metrics.list.swd.directions=16", "metrics.list.swd.repeats=1"]


def metric_overrides(tmp_path, metrics: str, n: int = 16, *extra: str) -> list[str]:
    small = [o for o in SMALL if "swd" in metrics or "full" in metrics]
    return ["dataset.resolution=16", f"metrics={metrics}", *small, f"metrics.n_samples={n}",
            "metrics.batch_size=8", f"metrics.cache_dir={tmp_path / 'cache'}", *extra]


def records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run with FID and SWD every 16 images, 32 images long: (run dir, overrides)."""
    run_dir = tmp_path_factory.mktemp("run")
    overrides = tiny("dcgan", *metric_overrides(run_dir, "[fid,swd]", 16, "metrics.every_kimg=0.016", "total_kimg=0.032"))
    module, trainer = fit(random_features(compose(overrides, run_dir)))
    return run_dir, overrides, trainer


def test_training_logs_metrics_keeps_the_best_and_writes_best_ckpt(run):
    run_dir, _, trainer = run
    rows = [r for r in csv.DictReader(open(run_dir / "csv" / "metrics.csv")) if r.get("metrics/fid")]
    assert len(rows) == 2 and {"metrics/swd", "metrics/swd/16"} <= set(rows[0])
    assert "metrics/fid" in trainer.callback_metrics  # what a sweep's optimized_metric reads
    logged = records(run_dir)
    assert [r["kimg"] for r in logged] == [0.016, 0.032]
    prov = logged[-1]["provenance"]
    assert prov["generator"] == "G_ema" and prov["n_fake"] == 16 and prov["n_real"] == 16
    assert prov["networks"]["inception"]["network"] == "random-conv" and prov["reference"]["name"] == "MNIST"
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["callbacks"]["MetricsCallback"]
    best = min(logged, key=lambda r: r["values"]["fid"])
    assert state["best_value"] == best["values"]["fid"] and state["best_kimg"] == best["kimg"]
    assert state["provenance"]["kimg"] == best["kimg"]  # best.ckpt holds the provenance of its own number
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["MetricsCallback"]
    assert [h["kimg"] for h in last["history"]] == [0.016, 0.032]
    assert prov["protocol"] == "16"  # 16 fakes against 16 of the 5,000 reals
    from gan_lightning.training.callbacks.progress import KimgProgressBar

    shown = KimgProgressBar().get_metrics(trainer, trainer.lightning_module)
    assert "fid16" in shown and "metrics/fid" not in shown  # the headline, named with its protocol


@pytest.mark.parametrize("at_end", [None, True, False])
def test_a_smoke_run_stopped_by_max_steps_skips_the_end_metrics_unless_asked(at_end, tmp_path, caplog):
    # trainer.max_steps=4: 2 batches of the 32-image run, before its first evaluation at 0.5 kimg
    overrides = tiny("dcgan", *metric_overrides(tmp_path, "fid", 16, "metrics.every_kimg=0.5", "trainer.max_steps=4",
                                                f"metrics.at_end={'null' if at_end is None else str(at_end).lower()}"))
    module, trainer = fit(random_features(compose(overrides, tmp_path)))
    callback = next(c for c in trainer.callbacks if isinstance(c, MetricsCallback))
    assert module.nimg == 16 and len(callback.history) == (1 if at_end else 0)
    skipped = [r.getMessage() for r in caplog.records if "skipped at the end" in r.getMessage()]
    assert skipped == (["metrics: skipped at the end of this 0.016 kimg run, stopped before its length and before "
                        "the first evaluation (every_kimg=0.5); metrics.at_end=true computes them"] if at_end is None else [])
    if at_end:  # each part's wall time is in the provenance
        seconds = callback.provenance["seconds"]
        assert {"generate", "features inception", "fid"} == set(seconds) and all(v >= 0 for v in seconds.values())


def test_a_run_that_reaches_its_length_is_evaluated_at_the_end_without_asking(tmp_path):
    overrides = tiny("dcgan", *metric_overrides(tmp_path, "fid", 16, "metrics.every_kimg=0.5", "total_kimg=0.016"))
    module, trainer = fit(random_features(compose(overrides, tmp_path)))
    assert [h["kimg"] for h in next(c for c in trainer.callbacks if isinstance(c, MetricsCallback)).history] == [0.016]
    with pytest.raises(ConfigError, match="metrics.at_end='sometimes' is not supported; accepted: null"):
        MetricsCallback(at_end="sometimes")


def test_resume_keeps_the_metric_history_and_best_value(run, tmp_path):
    run_dir, overrides, _ = run
    cfg = random_features(compose([*overrides, "total_kimg=0.048"], tmp_path))
    fit(cfg, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt"))
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["MetricsCallback"]
    assert [h["kimg"] for h in state["history"]] == [0.016, 0.032, 0.048]
    assert state["best_value"] == min(h["values"]["fid"] for h in state["history"])


def test_evaluate_command_reproduces_the_training_value_and_writes_json(run, tmp_path, capsys):
    from gan_lightning.evaluate import evaluate

    run_dir, _, _ = run
    out = tmp_path / "eval.json"
    cfg = random_features(compose([f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "metrics=[fid,swd,is]", *SMALL,
                                   "n_samples=16", "batch_size=8", "progress=false", f"out={out}",
                                   f"metrics.cache_dir={tmp_path / 'cache'}"], config_name="evaluate"))
    evaluate(cfg)
    record = json.loads(out.read_text())
    trained = records(run_dir)[-1]
    for key, value in trained["values"].items():
        assert_close(record["values"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert record["provenance"]["generator"] == "G_ema" and record["kimg"] == 0.032
    assert "unavailable" in record["provenance"]["metrics"]["is"]
    printed = capsys.readouterr().out
    assert "fid16 " in printed and "is: unavailable" in printed and "random-conv" in printed
    assert record["provenance"]["protocol"] == "16" and "protocol 16" in printed


def test_generate_command_writes_a_grid_single_pngs_and_an_interpolation_strip(run, tmp_path):
    from gan_lightning.generate import generate

    run_dir, _, _ = run
    cfg = compose([f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "n=6", "pngs=true", "interpolation=5",
                   f"out_dir={tmp_path}"], config_name="generate")
    generate(cfg)
    assert Image.open(tmp_path / "grid.png").size == (3 * 18 + 2, 2 * 18 + 2)  # 16 px images, 2 px padding
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"{i:06d}.png" for i in range(6)]
    assert Image.open(tmp_path / "images" / "000000.png").size == (16, 16)
    assert Image.open(tmp_path / "interpolation.png").size == (5 * 18 + 2, 4 * 18 + 2)  # 4 rows of 5 steps
    truncated = compose([f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "truncation=0.7", f"out_dir={tmp_path}"],
                        config_name="generate")  # the run is a DCGAN, whose G has no truncation
    with pytest.raises(ConfigError, match=r"truncation=0.7 is not an option of .*dcgan.Generator; accepted: none"):
        generate(truncated)


def test_metrics_on_two_ddp_processes_equal_the_single_process_values(tmp_path):
    n = 32
    overrides = tiny("dcgan", *metric_overrides(tmp_path, "full", n, "metrics.every_kimg=1000", "trainer=ddp_cpu",
                                                "metrics.list.kid.subsets=3", "metrics.list.kid.subset_size=8"),
                     "total_kimg=0.032")
    cfg = random_features(compose(overrides, tmp_path))
    fit(cfg)
    ddp = records(tmp_path)[-1]  # written by rank 0 at the end of training
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    suite = MetricSuite(instantiate(cfg.metrics.list), instantiate(cfg.metrics.features), n, None, 8, cfg.seed,
                        str(tmp_path / "single_cache"))
    datamodule = instantiate(cfg.dataset)
    values, _ = suite.evaluate(fake_images(module, True, cfg.seed), real_images(datamodule, suite),
                               describe_dataset(datamodule))
    assert set(values) == set(ddp["values"]) and {"fid", "kid", "swd", "precision", "msssim"} <= set(values)
    for key, value in values.items():
        assert_close(ddp["values"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    cached = [torch.load(p, weights_only=True)["features"] for d in ("cache", "single_cache")
              for p in (tmp_path / d).glob("*.pt")]
    assert len(cached) == 2 and torch.equal(cached[0], cached[1])  # rank 0 cached what one process computes


def test_real_feature_cache_key_follows_the_crop_the_files_and_the_pixels(tiny_dataset_roots, tmp_path):
    import os

    from gan_lightning.data import CelebADataModule
    from gan_lightning.metrics import RandomFeatures
    from gan_lightning.metrics.cache import key_name, pixels_digest, real_key

    root = tiny_dataset_roots["celeba"][0].split("=", 1)[1]

    def key(crop_size: int) -> str:
        data = CelebADataModule(root, resolution=16, crop_size=crop_size, batch_size=2)
        dataset = describe_dataset(data)
        return key_name(real_key(dataset, RandomFeatures(), 4, 0, pixels_digest(data.data[0][:64])))

    assert describe_dataset(CelebADataModule(root, resolution=16, crop_size=24, batch_size=2))["config"]["crop_size"] == 24
    first = key(24)
    assert key(24) == first and key(28) != first  # a changed crop never reuses stale features
    picture = next(Path(root).rglob("*.png"))
    os.utime(picture, ns=(picture.stat().st_atime_ns, picture.stat().st_mtime_ns + 10**9))  # touched
    assert key(24) != first
    suite = MetricSuite({"fid": instantiate({"_target_": "gan_lightning.metrics.FID", "feature": "f"})},
                        {"f": RandomFeatures(dim=4)}, n_samples=4, batch_size=4, cache_dir=str(tmp_path / "cache"))
    sources = []
    for crop_size in (24, 24, 28):
        data = CelebADataModule(root, resolution=16, crop_size=crop_size, batch_size=2)
        _, provenance = suite.evaluate(lambda start, size: data.data[0][:size], data.data[0], describe_dataset(data))
        sources.append(provenance["networks"]["f"]["real_features"].split(",")[0])
    assert sources == ["computed", "cache", "computed"]


def test_fid50k_full_is_50k_fakes_against_every_real_in_training_and_in_evaluate(tmp_path):
    from gan_lightning.metrics.suite import protocol_name, shown_name

    train = compose(["metrics=fid50k_full"], tmp_path)
    evaluate = compose(["ckpt=x", "metrics=fid50k_full"], config_name="evaluate")
    assert (train.metrics.n_samples, train.metrics.n_real, train.metrics.protocol) == (50000, "all", "50k_full")
    assert (evaluate.n_samples, evaluate.n_real, evaluate.protocol) == (50000, "all", "50k_full")
    assert list(train.metrics.list) == ["fid"] and compose(["metrics=fid"], tmp_path).metrics.n_samples == 10000  # the 10k default
    assert shown_name("fid", "50k_full") == "fid50k_full" and shown_name("swd/16", "10k") == "swd10k/16"
    assert [protocol_name(*c) for c in ((50000, 50000, 50000), (10000, 10000, 60000), (10000, 5000, 60000))] == \
        ["50k_full", "10k", "10k_5k"]
    suite = MetricSuite({"fid": instantiate({"_target_": "gan_lightning.metrics.FID", "feature": "f"})},
                        {"f": instantiate({"_target_": "gan_lightning.metrics.RandomFeatures", "dim": 4})},
                        n_samples=4, n_real="all", batch_size=4, cache=False)
    reals = torch.randint(0, 256, (10, 1, 16, 16), dtype=torch.uint8)
    _, provenance = suite.evaluate(lambda start, size: reals[:size], reals, {"name": "x", "size": 10})
    assert provenance["n_real"] == 10 and provenance["protocol"] == "4_full"


def test_the_reference_set_and_the_fakes_z_do_not_follow_the_training_seed(tmp_path):
    callbacks = [instantiate(random_features(compose(tiny("dcgan", "metrics=full", f"seed={seed}"), tmp_path)).callbacks.metrics)
                 for seed in (1, 2)]
    for callback in callbacks:
        suite = callback.suite
        assert suite.seed == 0 and callback.fake_seed == 0
        assert suite.metrics["kid"].seed == suite.metrics["swd"].seed == 0
        assert suite.provenance({}, 10, {})["real_selection"] == "first 10 of a permutation seeded 0"


@pytest.mark.parametrize("option", sorted(p.stem for p in (REPO / "conf" / "metrics").glob("*.yaml")))
def test_every_metrics_option_composes_and_instantiates(option, tmp_path):
    data = ["mlp", "dataset=ring"] if option in ("ring", "grid", "modes") else ["dcgan"]
    cfg = random_features(compose(tiny(*data, f"metrics={option}"), tmp_path))
    callback = instantiate(cfg.callbacks.metrics)
    assert isinstance(callback, MetricsCallback)
    assert callback.enabled == (option not in ("none", "cifar10", "folder"))  # no metric by default on CPU there


def test_metrics_on_data_that_are_not_images_stop_with_one_line(tmp_path):
    from gan_lightning.errors import ConfigError
    from gan_lightning.run.build import build

    datamodule, module, trainer = build(compose(tiny("mlp", "dataset=ring", "metrics=swd"), tmp_path))
    with pytest.raises(ConfigError, match=r"^metrics=swd cannot read ring, whose samples are points.*metrics=none$"):
        trainer.fit(module, datamodule=datamodule)
