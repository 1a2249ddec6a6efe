"""The runs of a sweep folder as records: their factors (loss, regularizer, normalization, swept keys), their
status with its reason, and their evaluations from `metrics.jsonl`.

A run folder is any sub-folder with a `config.yaml`, a `.hydra/` record or a `train.log`. Its status comes
from the last lines of `train.log`: `done` ("done: ..."), `interrupted`, `diverged` (the divergence guard's
error: "became NaN/inf", or a logit or weight past module.max_abs_logit / max_abs_weight), `failed` (any other
one-line error, or a traceback), else `unfinished` (still running, killed, or out of time).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_lightning.errors import NONFINITE, PAST_BOUND

# Keys of the project's metrics where higher is better (others: lower, as FID, KID, SWD, KL)
HIGHER_IS_BETTER = {"modes", "high_quality", "precision", "recall", "density", "coverage", "classifier_score",
                    "classes_covered", "is"}

# The GAN Landscape's axes: (column, where the run's config holds it)
FACTORS = (("loss", "choices.loss"), ("regularizer", "choices.regularizer"),
           ("normalization", "arch.discriminator.normalization"))


@dataclass
class Run:
    """One run folder: what it was, how it ended, what it measured."""

    path: Path
    status: str = "unfinished"
    reason: str = ""
    factors: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    history: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (kimg, values) per evaluation
    config: dict[str, Any] = field(default_factory=dict)
    trial: int | None = None  # the Optuna trial that recorded this run as FAIL (gan_lightning/run/trials.py)
    seconds: float = math.nan  # training time of its "done: ... in N s" line (a resumed run: its last part)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def short_name(self) -> str:
        """The folder's job number (`007` of `007_loss=ns,...`), else its name."""
        head = self.name.split("_", 1)[0]
        return head if head.isdigit() else self.name

    @property
    def kimg(self) -> float | None:
        """kimg of the last evaluation."""
        return self.history[-1][0] if self.history else None

    def last(self, key: str) -> float:
        """The key's value at the last evaluation (NaN when never measured)."""
        for _, values in reversed(self.history):
            if key in values:
                return float(values[key])
        return math.nan

    def best(self, key: str, mode: str) -> tuple[float, float | None]:
        """(best value over the evaluations, its kimg); (NaN, None) when never measured."""
        points = [(v[key], kimg) for kimg, v in self.history if key in v and math.isfinite(v[key])]
        if not points:
            return math.nan, None
        return (min if mode == "min" else max)(points, key=lambda p: p[0])


def lookup(config: dict[str, Any], dotted: str) -> Any:
    """config['a']['b'] for 'a.b'; None when a part is missing."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def read_status(log: Path) -> tuple[str, str]:
    """(status, reason) from the end of train.log."""
    if not log.is_file():
        return "unfinished", "no train.log"
    lines = log.read_text(errors="replace").splitlines()
    for line in reversed(lines):
        message = re.sub(r"^\[[^\]]*\]\[[^\]]*\]\[[A-Z]+\] - ", "", line)
        if message.startswith("done: "):
            return "done", ""
        if message.startswith("interrupted: "):
            return "interrupted", "stopped by Ctrl-C or a signal"
        if message.startswith("error: "):
            reason = message[len("error: "):]
            diverged = NONFINITE in reason or PAST_BOUND in reason  # the divergence guard's stops (errors.py)
            return ("diverged" if diverged else "failed"), reason
        if message.startswith("stopped by an unexpected error"):
            last = next((x for x in reversed(lines) if x and not x.startswith(" ")), "")
            return "failed", f"unexpected error: {last.strip()}"
    return "unfinished", "no final line in train.log (running, killed or out of time)"


def read_seconds(log: Path) -> float:
    """The training seconds of the run's "done: ... in N s (CPU M s)" lines, summed over its launches: the CPU
    seconds of this process where the line has them (so runs sharing a machine compare fairly), else the wall
    seconds. A run lengthened by a later launch (a larger total_kimg, resumed) adds that part's seconds, a
    finished run launched again its few seconds of start-up, and a launch killed before its end nothing; NaN
    without one."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    found = re.findall(r"done: .* in (\d+(?:\.\d+)?) s(?: \(CPU (\d+(?:\.\d+)?) s\))?", text)
    return sum(float(cpu or wall) for wall, cpu in found) if found else math.nan


def read_failed_trial(log: Path) -> int | None:
    """The number of the Optuna trial this run failed as (its "optuna: trial N of study S fails" line)."""
    found = re.findall(r"optuna: trial (\d+) of study .* fails: ", log.read_text(errors="replace")) if log.is_file() else []
    return int(found[-1]) if found else None


def read_history(path: Path) -> list[tuple[float, dict[str, float]]]:
    """(kimg, values) per line of metrics.jsonl; a torn last line (a killed run) is skipped."""
    history = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            values = {k: float(v) for k, v in entry.get("values", {}).items() if isinstance(v, (int, float))}
            history.append((float(entry.get("kimg", math.nan)), values))
    return history


def read_overrides(run_dir: Path) -> dict[str, str]:
    """The job's overrides (`.hydra/overrides.yaml`) as {key: value}."""
    path = run_dir / ".hydra" / "overrides.yaml"
    items = yaml.safe_load(path.read_text()) if path.is_file() else None
    return dict(str(o).lstrip("+~").split("=", 1) for o in (items or []) if "=" in str(o))


def read_run(run_dir: Path) -> Run:
    """The record of one run folder."""
    config_path = run_dir / "config.yaml"
    config = (yaml.safe_load(config_path.read_text()) or {}) if config_path.is_file() else {}
    run = Run(run_dir, config=config, overrides=read_overrides(run_dir))
    hydra_config = run_dir / ".hydra" / "config.yaml"
    fallback = (yaml.safe_load(hydra_config.read_text()) or {}) if not config and hydra_config.is_file() else {}
    for column, dotted in FACTORS:
        value = lookup(config, dotted) if config else None
        if value is None:  # a run that stopped before writing config.yaml: its override or the composed value
            value = run.overrides.get(dotted.removeprefix("choices."), lookup(fallback, dotted))
        if isinstance(value, list):  # several options of one group: regularizer=[r1,r2]
            value = f"[{','.join(map(str, value))}]"
        run.factors[column] = "-" if value is None else str(value)
    run.status, run.reason = read_status(run_dir / "train.log")
    run.trial = read_failed_trial(run_dir / "train.log") if run.status != "done" else None
    run.history = read_history(run_dir / "metrics.jsonl")
    run.seconds = read_seconds(run_dir / "train.log") if run.status == "done" else math.nan
    return run


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in ("config.yaml", ".hydra", "train.log"))


def read_sweep(sweep_dir: str | Path) -> list[Run]:
    """Every run folder directly under `sweep_dir` (or `sweep_dir` itself when it is one run), by name."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    dirs = [p for p in sorted(root.iterdir()) if is_run_dir(p)] or ([root] if is_run_dir(root) else [])
    return [read_run(p) for p in dirs]


def swept_keys(runs: list[Run]) -> list[str]:
    """Override keys whose values differ between runs (what the sweep varied), minus the factor columns."""
    keys = sorted({k for run in runs for k in run.overrides})
    factor_keys = {dotted.removeprefix("choices.") for _, dotted in FACTORS}
    return [k for k in keys if k not in factor_keys and len({run.overrides.get(k) for run in runs}) > 1]


def default_metric(runs: list[Run]) -> tuple[str | None, str]:
    """The metric the sweep was about and its direction: `optimized_metric`, else `metrics.best`, else the
    first key measured; min unless the config says max for that key."""
    for run in runs:
        best, mode = lookup(run.config, "metrics.best"), lookup(run.config, "metrics.best_mode") or "min"
        optimized = lookup(run.config, "optimized_metric")
        if optimized:
            key = str(optimized).removeprefix("metrics/")
            return key, (mode if key == best else direction(key))
        if best:
            return str(best), str(mode)
    for run in runs:
        if run.history:
            key = next(iter(run.history[-1][1]), None)
            return key, direction(key)
    return None, "min"


def direction(key: str | None) -> str:
    """'max' for keys where higher is better, else 'min'."""
    return "max" if key in HIGHER_IS_BETTER else "min"


def headline_keys(runs: list[Run]) -> list[str]:
    """Measured keys worth a column: no per-level (`swd/16`), spread (`_std`) or real-data (`_real`) keys."""
    keys: list[str] = []
    for run in runs:
        for _, values in run.history:
            keys += [k for k in values if k not in keys and "/" not in k and not k.endswith(("_std", "_real"))]
    return keys
