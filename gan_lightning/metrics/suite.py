"""Run a set of metrics: real and fake images in fixed chunks sharded over ranks, features computed once.

The n images are cut into chunks of `batch_size`; rank r of W takes a contiguous run of chunks, so that
what the ranks gather (in rank order) is what one process sees, and every chunk is drawn from its own seed:
the values under DDP equal the single-process values. Each feature network runs once per chunk and feeds
every metric that names it. Real features come from the on-disk cache when it holds them.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import contextmanager
from time import perf_counter
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from gan_lightning.errors import ConfigError, check_number
from gan_lightning.metrics.base import Metric, Sets
from gan_lightning.metrics.cache import (
    PIXEL_SAMPLE,
    default_cache_dir,
    load_features,
    pixels_digest,
    real_key,
    save_features,
)
from gan_lightning.metrics.features import FeatureNet

log = logging.getLogger(__name__)


def count_name(n: int) -> str:
    """50000 -> '50k', 2500 -> '2500'."""
    return f"{n // 1000}k" if n % 1000 == 0 and n else str(n)


def protocol_name(n_fake: int, n_real: int, size: int) -> str:
    """The counts as StyleGAN2-ADA names them: '50k_full' (50k fakes, every real), '10k' (10k and 10k),
    '10k_5k' (10k fakes, 5k reals)."""
    if n_real >= size:
        return f"{count_name(n_fake)}_full"
    return count_name(n_fake) if n_real == n_fake else f"{count_name(n_fake)}_{count_name(n_real)}"


def shown_name(key: str, protocol: str) -> str:
    """A value's name with its protocol: fid -> fid50k_full, swd/16 -> swd50k_full/16."""
    head, slash, tail = key.partition("/")
    return f"{head}{protocol if protocol[:1].isdigit() else '_' + protocol}{slash}{tail}"


@contextmanager
def timed(seconds: dict[str, float], key: str, device: torch.device | str):
    """Add the block's wall time to seconds[key] (after the device's queued work is done)."""
    start = perf_counter()
    try:
        yield
    finally:
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
        seconds[key] = seconds.get(key, 0.0) + perf_counter() - start


def shard(n: int, batch_size: int, rank: int, world_size: int) -> list[tuple[int, int]]:
    """(start, size) of the chunks of range(n) that `rank` handles: even sizes (MS-SSIM pairs stay
    inside a chunk), about `batch_size` each, at least one per rank, contiguous per rank."""
    if n < 2 * world_size:
        raise ConfigError(f"metrics.n_samples={n} is too small for {world_size} processes; "
                          f"accepted: at least {2 * world_size} (2 images per process)")
    count = max(world_size, min(n // 2, -(-n // max(2, batch_size))))
    bounds = [2 * (i * (n // 2) // count) for i in range(count)] + [n]
    chunks = [(bounds[i], bounds[i + 1] - bounds[i]) for i in range(count)]
    lo, hi = rank * count // world_size, (rank + 1) * count // world_size
    return chunks[lo:hi]


class MetricSuite:
    """Named metrics and the feature networks they use; `evaluate` returns values and their provenance."""

    def __init__(self, metrics: dict[str, Metric], features: dict[str, FeatureNet] | None = None,
                 n_samples: int = 10000, n_real: int | str | None = None, batch_size: int = 64, seed: int = 0,
                 cache_dir: str | None = None, cache: bool = True, protocol: str | None = None) -> None:
        self.metrics = {name: m for name, m in (metrics or {}).items() if m is not None}
        self.features = {name: f for name, f in (features or {}).items() if f is not None}
        for name, metric in self.metrics.items():
            if metric.feature is not None and metric.feature not in self.features:
                raise ConfigError(f"metrics.list.{name}.feature={metric.feature!r} names no feature network; "
                                  f"accepted: {', '.join(self.features) or 'a key of metrics.features'}")
        self.n_samples = check_number("metrics.n_samples", n_samples, 2, integer=True)
        # n_real: "all" (the whole dataset), a number, or None (as many as n_samples, at most all)
        if isinstance(n_real, str) and n_real != "all":
            raise ConfigError(f"metrics.n_real={n_real!r} is not supported; accepted: an integer >= 2, null (as many "
                              "as n_samples, at most all) or all (the whole dataset)")
        self.n_real = n_real if n_real == "all" else check_number("metrics.n_real", n_real, 2, integer=True, nullable=True)
        if protocol is not None and (not isinstance(protocol, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", protocol)):
            raise ConfigError(f"metrics.protocol={protocol!r} is not supported; accepted: null (named from the "
                              "counts) or a name of letters, digits, '_', '.', '-' such as 50k_full")
        self.protocol = protocol
        self.device: torch.device | str = "cpu"
        self.seconds: dict[str, float] = {}  # of the last evaluate: generation, each feature network, each metric
        self.batch_size = check_number("metrics.batch_size", batch_size, 1, integer=True)
        self.seed = seed
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.cache = cache

    def used_features(self, real: bool) -> dict[str, FeatureNet]:
        """The feature networks some metric reads (for reals: some metric that needs reals)."""
        names = {m.feature for m in self.active() if m.feature is not None and (m.needs_real or not real)}
        return {name: net for name, net in self.features.items() if name in names}

    def active(self) -> list[Metric]:
        return [m for m in self.metrics.values() if m.unavailable is None]

    def evaluate(self, fake: Callable[[int, int], Tensor], reals: Tensor, dataset: dict[str, Any],
                 device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1,
                 progress: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """Values and provenance; fake(start, size) gives uint8 images [size, C, H, W] of the chunk at start.

        `reals` is the dataset's uint8 images [N, C, H, W]; `dataset` names it (name, source, split, ...).
        Every rank must call this (the metrics gather their states over ranks in compute()).
        """
        for metric in self.active():
            metric.reset()
            metric.to(device)
        for net in self.features.values():
            net.to(device)
        self.device, self.seconds = device, {}
        n_real = len(reals) if self.n_real == "all" else min(self.n_real or self.n_samples, len(reals))
        chosen = torch.randperm(len(reals), generator=torch.Generator().manual_seed(self.seed))[:n_real]
        real_chunks, fake_chunks = (shard(n, self.batch_size, rank, world_size) for n in (n_real, self.n_samples))
        own = sum(size for _, size in real_chunks + fake_chunks)
        protocol = self.protocol_of(n_real, len(reals))
        bar = tqdm(total=own, desc=f"metrics {protocol}: reals", unit="img", disable=not progress, leave=False)
        cached = self.feed_reals(reals[chosen], real_chunks, dataset, n_real, device, bar)
        bar.set_description(f"metrics {protocol}: fakes")
        for start, size in fake_chunks:
            with timed(self.seconds, "generate", device):
                images = fake(start, size).to(device)
            self.feed(images, real=False, features=self.used_features(real=False), start=start)
            bar.update(size)
        bar.close()
        values: dict[str, float] = {}
        for name, metric in self.metrics.items():
            if metric.unavailable is None:
                with timed(self.seconds, name, device):
                    values.update(rename(metric.compute(), metric.name, name))
        return values, self.provenance(dataset, n_real, cached)

    def protocol_of(self, n_real: int, size: int) -> str:
        """The protocol's name: `protocol`, else from the counts (protocol_name)."""
        return self.protocol or protocol_name(self.n_samples, n_real, size)

    def feed(self, images: Tensor, real: bool, features: dict[str, FeatureNet], start: int = 0) -> dict[str, Tensor]:
        """Give one chunk (the images from `start` on) to the image metrics and, through each network in
        `features`, to its metrics."""
        for name, metric in self.used(real):
            if metric.feature is None:
                with timed(self.seconds, name, self.device):
                    metric.update_at(images, real, start)
        computed = {}
        for name, net in features.items():
            with timed(self.seconds, f"features {name}", self.device):
                computed[name] = net(images)
        self.feed_features(computed, real)
        return computed

    def used(self, real: bool) -> list[tuple[str, Metric]]:
        """(name, metric) of the available metrics that take this kind of image."""
        return [(n, m) for n, m in self.metrics.items() if m.unavailable is None and (m.needs_real or not real)]

    def feed_features(self, computed: dict[str, Tensor], real: bool) -> None:
        for name, metric in self.used(real):
            if metric.feature in computed:
                with timed(self.seconds, name, self.device):
                    metric.update(computed[metric.feature], real)

    def feed_reals(self, reals: Tensor, chunks: list[tuple[int, int]], dataset: dict[str, Any], n_real: int,
                   device, bar) -> dict[str, str]:
        """Feed this rank's real chunks; real features from the cache, else computed, gathered and cached."""
        nets = self.used_features(real=True)
        pixels = pixels_digest(reals[:PIXEL_SAMPLE]) if nets and self.cache else None
        keys = {name: real_key(dataset, net, n_real, self.seed, pixels) for name, net in nets.items()}
        loaded = {name: load_features(self.cache_dir, keys[name]) if self.cache else None for name in nets}
        loaded = {name: f for name, f in loaded.items() if f is not None}
        missing = {name: net for name, net in nets.items() if name not in loaded}
        image_metrics = any(m.feature is None and m.needs_real for m in self.active())
        stores = {name: Sets().to(device) for name in missing}
        for start, size in chunks:
            if not missing and not image_metrics:
                break
            computed = self.feed(reals[start : start + size].to(device), real=True, features=missing, start=start)
            for name, f in computed.items():
                stores[name].update(f, real=True)
            bar.update(size)
        for start, size in chunks:
            self.feed_features({name: f[start : start + size].to(device) for name, f in loaded.items()}, real=True)
        sources = {name: "cache" for name in loaded}
        for name, store in stores.items():
            gathered = store.compute()[0]  # all ranks' real features, in order
            sources[name] = "computed"
            if self.cache and (not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0):
                path = save_features(self.cache_dir, keys[name], gathered)
                sources[name] = f"computed, cached as {path}"
        return sources

    def provenance(self, dataset: dict[str, Any], n_real: int, sources: dict[str, str]) -> dict[str, Any]:
        """How the numbers were made: networks and weight hashes, preprocessing, image counts, reference data."""
        size = dataset.get("size") or n_real
        return {
            "protocol": self.protocol_of(n_real, size),
            "n_fake": self.n_samples,
            "n_real": n_real,
            "reference": {k: dataset.get(k) for k in ("name", "source", "split", "resolution", "channels", "size", "config")},
            "real_selection": f"first {n_real} of a permutation seeded {self.seed}",
            "networks": {name: {**net.provenance(), "real_features": sources.get(name, "not used")}
                         for name, net in self.features.items()},
            "seconds": {key: round(value, 3) for key, value in self.seconds.items()},
            "metrics": {name: {"class": type(m).__name__, "feature": m.feature or "pixels (uint8, native size)",
                               **({"unavailable": m.unavailable} if m.unavailable else m.settings())}
                        for name, m in self.metrics.items()},
        }

    def check_inputs(self, inputs: str, channels: int, resolution: int, what: str) -> None:
        """Raise ConfigError unless every metric reads this kind of data: 'images' (1 or 3 channels) or 'points'."""
        wrong = [name for name, m in self.metrics.items() if m.inputs != inputs]
        if wrong:
            accepted = "metrics that read 2-D points (metrics=modes)" if inputs == "points" else "image metrics"
            raise ConfigError(f"metrics={', '.join(wrong)} cannot read {what}, whose samples are {inputs} "
                              f"({channels} channels at {resolution}x{resolution}); accepted: {accepted}, or metrics=none")
        if inputs == "images" and self.metrics and (channels not in (1, 3) or resolution < 8):
            raise ConfigError(f"metrics={', '.join(self.metrics)} need images with 1 or 3 channels; {what} has "
                              f"{channels} channels at {resolution}x{resolution}; accepted: metrics=none")


def rename(values: dict[str, float], default: str, name: str) -> dict[str, float]:
    """Keys of a metric configured under another name: fid -> fid_mnist, precision -> pr_mnist/precision."""
    if name == default:
        return values
    own = lambda key: key == default or key.startswith((default + "_", default + "/"))  # fid, fid_std, swd/16
    return {(name + k[len(default):] if own(k) else f"{name}/{k}"): v for k, v in values.items()}
