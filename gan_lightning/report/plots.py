"""The report's figures (matplotlib, Agg): the metric per option of each factor, the best metric against the
number of runs trained, and the learning curves of the top runs."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gan_lightning.report.runs import FACTORS, Run  # noqa: E402


def by_factor(runs: list[Run], values: dict[str, float], key: str, mode: str, path: Path) -> Path:
    """Box plots with every run as a dot, one panel per factor (loss, regularizer, normalization), as the GAN
    Landscape's figures; runs without a value (failed, diverged, unfinished) are counted under each box."""
    fig, axes = plt.subplots(1, len(FACTORS), figsize=(4.2 * len(FACTORS), 3.8), sharey=True)
    rng = np.random.default_rng(0)  # jitter of the dots only
    for ax, (column, _) in zip(np.atleast_1d(axes), FACTORS):
        options = sorted({run.factors[column] for run in runs})
        data = [[values[r.name] for r in runs if r.factors[column] == o and math.isfinite(values[r.name])]
                for o in options]
        missing = [sum(1 for r in runs if r.factors[column] == o and not math.isfinite(values[r.name]))
                   for o in options]
        ax.boxplot([d if d else [math.nan] for d in data], showfliers=False, widths=0.5)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, len(d)), d, s=14, color="tab:blue", alpha=0.7, zorder=3)
        ax.set_xticks(range(1, len(options) + 1),
                      [f"{o}\n({m} not done)" if m else o for o, m in zip(options, missing)])
        ax.set_title(column)
        ax.grid(axis="y", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel(f"{key} ({'lower' if mode == 'min' else 'higher'} is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def expected_best(scores: np.ndarray, budget: int, mode: str, draws: int = 2000, seed: int = 0) -> np.ndarray:
    """[3]: mean, 10th and 90th percentile of the best score among `budget` runs drawn without replacement;
    a failed run scores the worst possible (inf for min), so it spends budget without helping."""
    rng = np.random.default_rng(seed)
    picks = np.stack([rng.permutation(len(scores))[:budget] for _ in range(draws)])  # [draws, budget]
    chosen = scores[picks]
    best = chosen.min(axis=1) if mode == "min" else chosen.max(axis=1)
    best = best[np.isfinite(best)]
    if len(best) == 0:
        return np.full(3, math.nan)
    return np.array([best.mean(), np.percentile(best, 10), np.percentile(best, 90)])


def budget(runs: list[Run], values: dict[str, float], key: str, mode: str, path: Path) -> Path:
    """The best metric reached against the number of runs trained (the Landscape's budget plot), per loss and
    for all runs: the mean over random orders of the runs, with a 10-90% band."""
    worst = math.inf if mode == "min" else -math.inf
    groups = {"all runs": runs}
    for option in sorted({r.factors["loss"] for r in runs}):
        groups[f"loss={option}"] = [r for r in runs if r.factors["loss"] == option]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, members in groups.items():
        scores = np.array([values[r.name] if math.isfinite(values[r.name]) else worst for r in members])
        sizes = np.arange(1, len(scores) + 1)
        curve = np.stack([expected_best(scores, k, mode) for k in sizes])  # [K, 3]
        line = ax.plot(sizes, curve[:, 0], marker="o", ms=3, label=label, lw=2.2 if label == "all runs" else 1.3)
        ax.fill_between(sizes, curve[:, 1], curve[:, 2], color=line[0].get_color(), alpha=0.12)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("number of runs trained (budget)")
    ax.set_ylabel(f"best {key} ({'lower' if mode == 'min' else 'higher'} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves(top: list[Run], key: str, mode: str, path: Path, label_keys: list[str]) -> Path:
    """The metric at every evaluation (kimg) of the top runs."""
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    for rank, run in enumerate(top, start=1):
        points = [(kimg, v[key]) for kimg, v in run.history if key in v]
        if points:
            label = ", ".join([*(f"{c} {run.factors[c]}" for c, _ in FACTORS),
                               *(f"{k}={run.overrides.get(k)}" for k in label_keys)])
            ax.plot(*zip(*points), marker="o", ms=3, label=f"#{rank} {label}")
    ax.set_xlabel("kimg (thousands of real images shown to D)")
    ax.set_ylabel(f"{key} ({'lower' if mode == 'min' else 'higher'} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))  # below: labels are long
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
