"""One PNG per finding of The GAN Landscape (gan_lightning/report/findings.py): the cell medians with their seed
spread as error bars, grouped by the setting they are matched in; for (c) also each run's score against its time."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gan_lightning.report.findings import Finding  # noqa: E402
from gan_lightning.report.runs import Run  # noqa: E402


def medians(ax, finding: Finding, key: str, mode: str) -> None:
    """Per group, one marker per series at its median, error bar = its spread (half the seed range)."""
    groups = list(finding.groups)
    series = list(dict.fromkeys(name for g in finding.groups.values() for name in g))
    width = 0.7 / max(len(series), 1)
    for i, name in enumerate(series):
        x = np.arange(len(groups)) + (i - (len(series) - 1) / 2) * width
        stats = [finding.groups[g].get(name) for g in groups]
        y = [s.median if s and math.isfinite(s.median) else math.nan for s in stats]
        err = [s.spread if s and math.isfinite(s.spread) else 0.0 for s in stats]
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=name)
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=8)
    log_scale(ax, [s.median for g in finding.groups.values() for s in g.values()])
    ax.set_ylabel(f"cell median {key} ({'lower' if mode == 'min' else 'higher'} is better)")
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(fontsize=8)


def log_scale(ax, values: list[float]) -> None:
    """A log y-axis when the finite values are all positive and span more than 20x (FID from 5 to 900: a linear
    axis would flatten every good cell onto one line)."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 20:
        ax.set_yscale("log")


def finding_plot(finding: Finding, runs: list[Run], values: dict[str, float], key: str, mode: str,
                 path: Path) -> Path:
    """The finding's plot, titled with its verdict."""
    cost = finding.key == "c"
    fig, axes = plt.subplots(1, 2 if cost else 1, figsize=(11 if cost else 6.4, 4.4), squeeze=False)
    medians(axes[0][0], finding, key, mode)
    if cost:  # every run with a value and a time: score against seconds, by regularizer
        ax = axes[0][1]
        for reg in sorted({r.factors["regularizer"] for r in runs}):
            points = [(r.seconds, values[r.name]) for r in runs if r.factors["regularizer"] == reg
                      and math.isfinite(r.seconds) and math.isfinite(values.get(r.name, math.nan))]
            if points:
                ax.scatter(*zip(*points), s=16, alpha=0.7, label=f"regularizer={reg}")
        log_scale(ax, [values.get(r.name, math.nan) for r in runs])
        ax.set_xlabel("training seconds per run (CPU where the done line has it, else wall)")
        ax.set_ylabel(f"final {key}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"({finding.key}) {finding.title}: {finding.verdict}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
