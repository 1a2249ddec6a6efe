"""Metrics for generated images: feature networks, metrics, a runner and a real-features cache.

The interface (what a new metric or feature network implements; domain metrics plug in the same way):

- A **feature network** (`features.FeatureNet`) is an `nn.Module`: uint8 images [N, C, H, W] (C = 1 or 3)
  -> float features [N, d]. It carries `name`, `weights_hash` (sha256 of its weights), `dim` and
  `preprocess` (what happens to pixels before the net); these identify it in provenance and in the cache
  key of real features. `InceptionFeatures` is the FID network; `RandomFeatures` a tiny one for tests.
- A **metric** (`base.Metric`), built by Hydra `_target_`, has a `name`, a `feature` (the name of a
  feature network in the suite, or None to be fed the uint8 images), `needs_real`, and
  `update(x, real)` / `compute() -> dict[str, float]` / `reset()` / `settings() -> dict` (for provenance).
  Its state lives in torchmetrics objects (`base.Sets`, `base.Sums`, or torchmetrics' own metrics), which
  gather it over DDP ranks in compute(). A metric that cannot run here sets `unavailable` to a one-line
  reason instead of returning a number.
- The **suite** (`suite.MetricSuite`) holds named metrics and named feature networks, feeds real images
  (or cached real features) and generated images in seeded chunks sharded over ranks, runs each feature
  network once per chunk for all metrics that name it, and returns values plus a provenance dict
  (networks, weight hashes, preprocessing, image counts, reference data, each metric's settings).
  A metric configured under another name than its own gets renamed keys (`fid` -> `fid_mnist`).
- `callbacks.metrics.MetricsCallback` runs a suite during training; `python -m gan_lightning.evaluate`
  runs one on a checkpoint. Config: the `metrics=` group (conf/metrics/), `metrics.features.<name>` and
  `metrics.list.<name>` entries.
"""
from gan_lightning.metrics.base import Metric
from gan_lightning.metrics.diversity import MSSSIM, InceptionScore
from gan_lightning.metrics.features import FeatureNet, InceptionFeatures, RandomFeatures
from gan_lightning.metrics.frechet import FID, KID
from gan_lightning.metrics.prdc import PrecisionRecall
from gan_lightning.metrics.suite import MetricSuite
from gan_lightning.metrics.swd import SWD

__all__ = ["FID", "KID", "MSSSIM", "SWD", "FeatureNet", "InceptionFeatures", "InceptionScore", "Metric",
           "MetricSuite", "PrecisionRecall", "RandomFeatures"]
