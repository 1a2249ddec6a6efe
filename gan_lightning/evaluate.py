"""Evaluate a checkpoint: `python -m gan_lightning.evaluate ckpt=<path> metrics=[fid,kid,swd,pr,msssim] n_samples=10000`,
or two sets of images: `python -m gan_lightning.evaluate fakes=DIR|NPZ reals=DIR|NPZ metrics=[fid,kid,pr]`
(`reals=DIR save_stats=stats.npz` writes pytorch-fid's mu/sigma, which `reals=` then accepts).

G_ema (or G) and the dataset are rebuilt from the config stored in the checkpoint; the metrics of the
`metrics=` group run on CPU or GPU with a progress bar; a table is printed and a JSON file written with
the values and their provenance (networks, weight hashes, resize, image counts, reference data, kimg).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_lightning.errors import ConfigError
from gan_lightning.metrics import folders
from gan_lightning.metrics.suite import MetricSuite, shown_name
from gan_lightning.run.cli import one_line_errors, pick_device, require_ckpt, unparsable
from gan_lightning.training.callbacks.metrics import (
    describe_dataset,
    fake_images,
    real_images,
)
from gan_lightning.training.checkpoint_io import load_module


def run_datamodule(module: Any, data_root: str | None) -> Any:
    """The datamodule of the checkpoint's run, optionally reading its data from `data_root`."""
    dataset = OmegaConf.create(module.run_config["dataset"])
    if data_root is not None:
        dataset.root = data_root
    return instantiate(dataset)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the configured metrics on a checkpoint (or on two sets of images); returns the JSON record (also
    written to disk)."""
    if cfg.get("reals") is not None:
        return compare(cfg)
    require_ckpt(cfg, "evaluate", "metrics=[fid,kid]", "; or fakes=<folder> reals=<folder> to compare two sets of images")
    if not cfg.metrics.list:
        raise ConfigError("metrics=none lists no metric; accepted: metrics=[fid,kid,swd,pr,msssim] or a subset")
    device = pick_device(cfg.device)
    module = load_module(cfg.ckpt, map_location=device)
    suite = MetricSuite(instantiate(cfg.metrics.list), instantiate(cfg.metrics.features), cfg.n_samples, cfg.n_real,
                        cfg.batch_size, cfg.seed, cfg.metrics.cache_dir, cfg.metrics.cache, cfg.protocol)
    datamodule = run_datamodule(module, cfg.data_root)
    reals = real_images(datamodule, suite)
    if not cfg.ema:
        module.generator.eval()
    values, provenance = suite.evaluate(fake_images(module, cfg.ema, cfg.fake_seed), reals, describe_dataset(datamodule),
                                        device, progress=cfg.progress)
    kimg = module.nimg / 1000
    record = {"checkpoint": os.path.abspath(cfg.ckpt), "kimg": kimg, "values": values,
              "provenance": {**provenance, "generator": "G_ema" if cfg.ema else "G", "kimg": kimg,
                             "fakes": f"z and labels from seed {cfg.fake_seed}", "device": str(device)}}
    out = Path(cfg.out) if cfg.out else Path(cfg.ckpt).with_suffix(".metrics.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(table(values, suite, record))
    print(f"written: {out}")
    return record


def compare(cfg: DictConfig) -> dict[str, Any]:
    """`fakes` against `reals` (images, or pytorch-fid statistics for FID), or `save_stats` of `reals`."""
    device = pick_device(cfg.device)
    features = instantiate(cfg.metrics.features)
    if cfg.save_stats is not None:
        net = features.get("inception") or next(iter(features.values()), None)
        if net is None:
            raise ConfigError("save_stats needs a feature network; accepted: metrics=fid (the FID Inception)")
        reals = folders.read_images(cfg.reals, "reals", cfg.resolution)
        out = folders.save_stats(cfg.save_stats, folders.features_of(reals, net, cfg.batch_size, device))
        print(f"written: {out} (mu, sigma of {len(reals)} images of {cfg.reals}, {net.name})")
        return {"stats": str(out), "n_real": len(reals), "network": net.name}
    if cfg.get("fakes") is None:
        raise ConfigError("reals= needs fakes= (two sets to compare) or save_stats= (to write its statistics)")
    fakes = folders.read_images(cfg.fakes, "fakes", cfg.resolution)
    if folders.is_stats(cfg.reals):
        names = set(cfg.metrics.list)
        if names != {"fid"}:
            raise ConfigError(f"reals={cfg.reals!r} holds statistics, which give FID only; got metrics "
                              f"{sorted(names)}; accepted: metrics=fid, or reals=<images> for the others")
        net = features[cfg.metrics.list.fid.feature]
        value = folders.fid_against_stats(folders.features_of(fakes, net, cfg.batch_size, device),
                                          *folders.read_stats(cfg.reals))
        values, provenance = {"fid": value}, {"reference": {"name": cfg.reals, "split": "statistics"},
                                              "n_fake": len(fakes), "networks": {}}
    else:
        reals = folders.read_images(cfg.reals, "reals", cfg.resolution or fakes.shape[-1])
        suite = MetricSuite(instantiate(cfg.metrics.list), features, len(fakes), len(reals), cfg.batch_size,
                            cfg.seed, cfg.metrics.cache_dir, cache=False)
        values, provenance = suite.evaluate(lambda start, size: fakes[start : start + size], reals,
                                            folders.describe(cfg.reals, reals), device, progress=cfg.progress)
    record = {"fakes": str(cfg.fakes), "reals": str(cfg.reals), "values": values, "provenance": provenance}
    out = Path(cfg.out) if cfg.out else Path(str(cfg.fakes).rstrip("/")).with_suffix(".metrics.json")
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    width = max(map(len, values), default=6) + 2
    print("\n".join([f"{cfg.fakes} ({len(fakes)} images) vs {cfg.reals}"] +
                    [f"  {key:<{width}}{value:.6g}" for key, value in values.items()]))
    print(f"written: {out}")
    return record


def table(values: dict[str, float], suite: MetricSuite, record: dict[str, Any]) -> str:
    """The values as an aligned text table, with the unavailable metrics and the main provenance."""
    prov = record["provenance"]
    ref = prov["reference"]
    lines = [f"{record['checkpoint']} at {record['kimg']:g} kimg, {prov['generator']}: {prov['n_fake']} fakes vs "
             f"{prov['n_real']} reals of {ref['name']} ({ref['split']}, {ref['resolution']}px, from {ref['source']}); "
             f"protocol {prov['protocol']}"]
    names = {key: shown_name(key, prov["protocol"]) for key in values}
    width = max(map(len, names.values()), default=6) + 2
    lines += [f"  {names[key]:<{width}}{value:.6g}" for key, value in values.items()]
    lines += [f"  {m.unavailable}" for m in suite.metrics.values() if m.unavailable]
    for name, net in prov["networks"].items():
        lines.append(f"  features '{name}': {net['network']} sha256 {net['weights_sha256'][:16]}..., "
                     f"{net['preprocess']}; real features {net['real_features']}")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    one_line_errors(evaluate, cfg)


if __name__ == "__main__":
    if (message := unparsable(sys.argv[1:])) is not None:  # Hydra's own error is a lexer traceback
        sys.exit(f"error: {message}")
    main()
