"""Metrics during training: every `every_kimg` and at the end, on G_ema (or G), logged as `metrics/<name>`.

The metrics come from the `metrics=` config group (conf/metrics/); with none listed this callback does
nothing. Every rank generates its share and the metrics gather their states, so each rank holds the same
values. Each evaluation is appended with its provenance to `<output_dir>/metrics.jsonl` and kept in the
callback's state (saved in checkpoints, restored on resume) with the best value so far; `best.ckpt` is
written when the chosen metric improves.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch

from gan_lightning.data.images import to_uint8
from gan_lightning.errors import ConfigError, check_choice, check_number
from gan_lightning.metrics.base import Metric
from gan_lightning.metrics.features import FeatureNet
from gan_lightning.metrics.suite import MetricSuite, shown_name
from gan_lightning.training.callbacks.log import log_scalars
from gan_lightning.training.checkpoint_io import save_atomic
from gan_lightning.training.schedule import crossed

log = logging.getLogger(__name__)
record = logging.getLogger("gan_lightning.record")  # train.log only: the console keeps to its four lines


def log_metrics(trainer: L.Trainer, values: dict[str, float], nimg: int) -> None:
    """Send metric values to every logger as `metrics/<key>` at step nimg (also to callback_metrics, for sweeps)."""
    scalars = {f"metrics/{key}": value for key, value in values.items() if math.isfinite(value)}
    log_scalars(trainer, {**scalars, "progress/kimg": nimg / 1000}, nimg)
    if trainer.is_global_zero:
        for logger in trainer.loggers:
            logger.save()  # the last evaluation comes after Lightning's final flush


def describe_dataset(datamodule: Any) -> dict[str, Any]:
    """What names the real data in provenance and in the cache key: name, source, split, shape, size, the
    options that change the pixels (`config`) and the identity of the files read (`files`)."""
    images = datamodule.data[0]  # loading sets `source`
    config = datamodule.pixel_config() if callable(getattr(datamodule, "pixel_config", None)) else None
    files = datamodule.files_identity() if callable(getattr(datamodule, "files_identity", None)) else None
    return {"name": getattr(datamodule, "name", type(datamodule).__name__), "source": getattr(datamodule, "source", None),
            "split": getattr(datamodule, "split", "train"), "resolution": datamodule.resolution,
            "channels": datamodule.channels, "size": len(images), "config": config, "files": files}


def real_images(datamodule: Any, suite: MetricSuite) -> torch.Tensor:
    """The datamodule's data: uint8 images [N, C, H, W], or float points for data that are not images (toys);
    a ConfigError when the configured metrics cannot read them."""
    data = datamodule.data[0]
    inputs = "images" if data.dtype == torch.uint8 else "points"
    suite.check_inputs(inputs, datamodule.channels, datamodule.resolution, getattr(datamodule, "name", "the dataset"))
    return data


def fake_images(module: L.LightningModule, ema: bool, seed: int, points: bool = False):
    """fake(start, size): uint8 images (or, for `points`, G's raw output) of the chunk starting at `start`,
    from a seed of its own."""
    c_dim = getattr(module.generator, "c_dim", 0)

    def fake(start: int, size: int) -> torch.Tensor:
        chunk_seed = (seed * 1_000_003 + start) % (2**63 - 1)
        c = torch.randint(c_dim, (size,), generator=torch.Generator().manual_seed(chunk_seed)) if c_dim else None
        samples = module.generate(size, c=c, seed=chunk_seed, ema=ema)
        return samples if points else to_uint8(samples)

    return fake


def broadcast_buffers(net: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers: batch-norm statistics differ per rank (each sees its own batches),
    and rank 0's are the ones checkpoints keep, so every rank must generate with them."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for buffer in net.buffers():
            torch.distributed.broadcast(buffer, src=0)


def shown_values(values: dict[str, float]) -> str:
    """'fid 12.3, kid 0.004': the headline keys (no per-level, std or real-data keys)."""
    keys = [k for k in values if "/" not in k and not k.endswith(("_std", "_real"))]
    return ", ".join(f"{k} {values[k]:.4g}" for k in keys)


def shown_seconds(seconds: dict[str, float]) -> str:
    """'took 12.3 s (generate 3.1, features inception 8.0, fid 0.2)': the wall time of each part."""
    parts = ", ".join(f"{key} {value:.3g}" for key, value in sorted(seconds.items(), key=lambda kv: -kv[1]))
    return f"took {sum(seconds.values()):.3g} s ({parts})"


class MetricsCallback(L.Callback):
    """Runs the configured metrics every `every_kimg` and at the end; keeps history, best value and best.ckpt."""

    def __init__(self, metrics: dict[str, Metric] | None = None, features: dict[str, FeatureNet] | None = None,
                 every_kimg: float = 50.0, n_samples: int = 10000, n_real: int | str | None = None, batch_size: int = 64,
                 ema: bool = True, best: str | None = "fid", best_mode: str = "min", seed: int = 0,
                 fake_seed: int = 0, cache_dir: str | None = None, cache: bool = True, dirpath: str = "checkpoints",
                 log_path: str | None = None, protocol: str | None = None, at_end: bool | None = None) -> None:
        check_choice("metrics.best_mode", best_mode, ("min", "max"))
        if at_end not in (None, True, False) or isinstance(at_end, int) and not isinstance(at_end, bool):
            raise ConfigError(f"metrics.at_end={at_end!r} is not supported; accepted: null (at the end of a run that "
                              "reached its length or passed one every_kimg), true or false")
        self.at_end = at_end
        # `seed` fixes the reference (real choice, KID subsets, SWD draws), `fake_seed` the fakes' z and labels:
        # neither follows the training seed, so that values of runs with other seeds compare their generators
        self.suite = MetricSuite(metrics or {}, features, n_samples, n_real, batch_size, seed, cache_dir, cache, protocol)
        self.every_nimg = int(check_number("metrics.every_kimg", every_kimg, 0) * 1000)  # 0: at the end only
        self.ema, self.best, self.best_mode, self.seed, self.fake_seed = ema, best, best_mode, seed, fake_seed
        self.dirpath = Path(dirpath)
        self.log_path = Path(log_path) if log_path else None
        self.history: list[dict[str, Any]] = []  # {"kimg": ..., "values": {...}} per evaluation
        self.best_value: float | None = None
        self.best_kimg: float | None = None
        self.provenance: dict[str, Any] = {}
        self.bar_names: dict[str, str] = {}  # logged key -> the name the progress bar shows, with the protocol

    @property
    def enabled(self) -> bool:
        return bool(self.suite.metrics)

    def headline(self) -> tuple[str, str] | None:
        """(the name the progress bar shows, the logged key) of the metric best.ckpt is picked by."""
        if not (self.enabled and self.best):
            return None
        key = f"metrics/{self.best}"
        return self.bar_names.get(key, self.best), key  # with the protocol once known: fid50k_full

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.enabled:
            real_images(trainer.datamodule, self.suite)  # bad data fail now, not after the first kimg

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if self.enabled and not pl_module.finished() and crossed(pl_module.nimg, pl_module.batch_nimg, self.every_nimg):
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        done = self.history and self.history[-1]["kimg"] == pl_module.nimg / 1000
        if not self.enabled or done or self.at_end is False:
            return
        short = not pl_module.finished() and (self.every_nimg == 0 or pl_module.nimg < self.every_nimg)
        if short and self.at_end is None:  # a smoke run (trainer.max_steps=6) is not worth 10k samples
            if trainer.is_global_zero:
                log.warning("metrics: skipped at the end of this %g kimg run, stopped before its length and before "
                            "the first evaluation (every_kimg=%g); metrics.at_end=true computes them",
                            pl_module.nimg / 1000, self.every_nimg / 1000)
            return
        self.evaluate(trainer, pl_module)

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        """Compute, log, record and (when improved) checkpoint; every rank calls it."""
        net = pl_module.G_ema if self.ema else pl_module.generator
        was_training = net.training
        net.eval()
        broadcast_buffers(net)
        try:
            reals = real_images(trainer.datamodule, self.suite)
            values, provenance = self.suite.evaluate(
                fake_images(pl_module, self.ema, self.fake_seed, points=reals.dtype != torch.uint8), reals,
                describe_dataset(trainer.datamodule), pl_module.device, trainer.global_rank, trainer.world_size,
                progress=trainer.is_global_zero and trainer.progress_bar_callback is not None)
        finally:
            net.train(was_training)
        kimg = pl_module.nimg / 1000
        self.provenance = {**provenance, "generator": "G_ema" if self.ema else "G", "kimg": kimg,
                           "fakes": f"z and labels from seed {self.fake_seed}"}
        self.history.append({"kimg": kimg, "values": values})
        # a value that compares fakes with reals is named with its counts (fid10k); the toys' and IS are not
        versus = [name for name, m in self.suite.metrics.items() if m.needs_real]
        self.bar_names = {f"metrics/{key}": shown_name(key, provenance["protocol"]) for key in values
                          if any(key == name or key.startswith((name + "/", name + "_")) for name in versus)}
        log_metrics(trainer, values, pl_module.nimg)
        improved = self.update_best(values, kimg)
        if trainer.is_global_zero:
            record.info("metrics at %.1f kimg (%s): %s%s; %s", kimg, self.provenance["generator"], shown_values(values),
                        " (best so far)" if improved else "", shown_seconds(provenance["seconds"]))
            if len(self.history) == 1:  # say once per run why a metric gives no number
                for reason in (m.unavailable for m in self.suite.metrics.values() if m.unavailable):
                    log.warning(reason)
            self.append_log({"kimg": kimg, "values": values, "provenance": self.provenance})
        if improved:
            save_atomic(trainer, self.dirpath / "best.ckpt", "callbacks.metrics.dirpath")
        return values

    def final_summary(self) -> str:
        """The last evaluation in a few words, for the run's final line ('' before any)."""
        if not self.history:
            return ""
        last = self.history[-1]
        return f"{self.provenance.get('generator', 'G_ema')} at {last['kimg']:g} kimg: {shown_values(last['values'])}"

    def update_best(self, values: dict[str, float], kimg: float) -> bool:
        """Whether `values` improve the best `self.best` so far (and remember it)."""
        value = values.get(self.best) if self.best else None
        if value is None or not math.isfinite(value):
            return False
        better = self.best_value is None or (value < self.best_value if self.best_mode == "min" else value > self.best_value)
        if better:
            self.best_value, self.best_kimg = value, kimg
        return better

    def append_log(self, record: dict[str, Any]) -> None:
        if self.log_path is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record, default=str) + "\n")

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "best": self.best, "best_value": self.best_value,
                "best_kimg": self.best_kimg, "provenance": self.provenance}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
        self.best_value, self.best_kimg = state_dict.get("best_value"), state_dict.get("best_kimg")
        self.provenance = state_dict.get("provenance", {})
