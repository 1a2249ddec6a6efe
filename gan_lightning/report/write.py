"""The report's Markdown and CSV tables, and the call that writes them with the plots."""
from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import yaml

from gan_lightning.errors import check_choice
from gan_lightning.report import findings_plots, plots
from gan_lightning.report.findings import applies, findings
from gan_lightning.report.runs import (
    FACTORS,
    Run,
    default_metric,
    direction,
    headline_keys,
    read_sweep,
    swept_keys,
)


def ranked(runs: list[Run], values: dict[str, float], mode: str) -> list[Run]:
    """Runs with a value, best first, then the others in folder order."""
    scored = sorted((r for r in runs if math.isfinite(values[r.name])),
                    key=lambda r: values[r.name] if mode == "min" else -values[r.name])
    return scored + [r for r in runs if not math.isfinite(values[r.name])]


def rows(runs: list[Run], values: dict[str, float], key: str, mode: str, keys: list[str],
         swept: list[str]) -> list[dict]:
    """One dict per run, in rank order: the columns of runs.csv (full precision) and of the Markdown table."""
    table = []
    for rank, run in enumerate(ranked(runs, values, mode), start=1):
        best, best_kimg = run.best(key, mode)
        row = {"rank": rank if math.isfinite(values[run.name]) else "", "run": run.name, "job": run.short_name,
               "status": run.status,
               **run.factors, **{k: run.overrides.get(k, "") for k in swept}, key: values[run.name],
               f"best {key}": best, "best at kimg": best_kimg, "kimg": run.kimg}
        row.update({f"last {k}": run.last(k) for k in keys if k != key})
        row["reason"] = run.reason
        table.append(row)
    return table


def shown(value) -> str:
    """A cell: 4 significant digits for numbers, '' for missing ones."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|")


def markdown_table(table: list[dict], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(shown(row.get(c)) for c in columns) + " |" for row in table]


def factor_summary(runs: list[Run], values: dict[str, float], mode: str) -> list[str]:
    """Per option of each factor: runs, how many have a value, median and best value, how many failed."""
    lines = ["| factor | option | runs | with a value | median | best | failed / diverged / unfinished |",
             "|---|---|---|---|---|---|---|"]
    for column, _ in FACTORS:
        for option in sorted({r.factors[column] for r in runs}):
            members = [r for r in runs if r.factors[column] == option]
            finite = [values[r.name] for r in members if math.isfinite(values[r.name])]
            best = (min if mode == "min" else max)(finite) if finite else math.nan
            median = statistics.median(finite) if finite else math.nan
            lines.append(f"| {column} | {option} | {len(members)} | {len(finite)} | {shown(median)} | {shown(best)} | "
                         f"{len(members) - len(finite)} |")
    return lines


def optuna_summary(sweep_dir: Path, runs: list[Run]) -> list[str]:
    """The Optuna sweeper's best parameters (optimization_results.yaml), when the sweep was a search, and the
    trials that failed with their reasons (also each trial's `fail_reason` in the study)."""
    path = sweep_dir / "optimization_results.yaml"
    failed = [r for r in runs if r.trial is not None]
    if not path.is_file() and not failed:
        return []
    results = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    params = ", ".join(f"`{k}={v}`" for k, v in (results.get("best_params") or {}).items())
    lines = ["## Optuna", ""]
    if path.is_file():
        lines += [f"Best value {shown(results.get('best_value'))} with {params}.", ""]
    if failed:
        lines += [f"{len(failed)} trials FAIL in the study, each with its reason as the user attribute `fail_reason`:",
                  "", *(f"- trial {r.trial} (FAIL): {r.reason} (`{r.name}`)" for r in failed), ""]
    return lines


def findings_section(runs: list[Run], values: dict[str, float], key: str, mode: str, swept: list[str],
                     out: Path) -> list[str]:
    """The GAN Landscape's findings (a)-(e), each with its verdict, numbers and plot, for a sweep over loss x
    normalization x regularizer x seed (experiment=landscape_mnist); nothing for other sweeps."""
    if not applies(runs, swept):
        return []
    lines = ["## Findings of The GAN Landscape (Kurach et al. 2019)", "",
             f"Per cell (loss / normalization / regularizer): the median over seeds of the final `{key}`; spread: half "
             "the range over seeds; A beats B when its median is better by more than the mean of the two spreads "
             "(within noise otherwise); a diverged run scores the worst value. Details: "
             "`gan_lightning/report/findings.py`.", ""]
    for finding in findings(runs, values, mode):
        plot = findings_plots.finding_plot(finding, runs, values, key, mode, out / f"finding_{finding.key}.png")
        lines += [f"### ({finding.key}) {finding.title}: {finding.verdict}", "", *finding.lines, "",
                  f"![finding {finding.key}]({plot.name})", ""]
    return lines


def write_report(sweep_dir: str | Path, out: str | Path | None = None, metric: str | None = None,
                 mode: str | None = None, value: str = "last", top: int = 5) -> Path:
    """Write report.md, runs.csv and the plots for the sweep at `sweep_dir`; returns the report folder.

    metric: the key compared (default: the runs' optimized_metric, else metrics.best); mode: min or max;
    value: `last` (the final evaluation, as the GAN Landscape) or `best` (the best evaluation of each run).
    """
    sweep_dir = Path(sweep_dir)
    runs = read_sweep(sweep_dir)
    if not runs:
        raise FileNotFoundError(f"no run folders (with config.yaml, .hydra/ or train.log) in {sweep_dir}")
    found, found_mode = default_metric(runs)
    key = (metric or found or "").removeprefix("metrics/")
    mode = mode or (found_mode if key == found else direction(key))
    check_choice("mode", mode, ("min", "max"))
    check_choice("value", value, ("last", "best"))
    out = Path(out) if out is not None else sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)

    values = {r.name: (r.last(key) if value == "last" else r.best(key, mode)[0]) if r.status == "done" else math.nan
              for r in runs}  # a diverged, failed or unfinished run has no final model to score
    keys, swept = headline_keys(runs), swept_keys(runs)
    table = rows(runs, values, key, mode, keys, swept)
    with open(out / "runs.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
                         for row in table)

    figures = [plots.by_factor(runs, values, key, mode, out / f"by_factor_{key}.png")]
    for other in keys:
        if other != key:
            other_values = {r.name: r.last(other) if r.status == "done" else math.nan for r in runs}
            figures.append(plots.by_factor(runs, other_values, other, direction(other), out / f"by_factor_{other}.png"))
    figures.append(plots.budget(runs, values, key, mode, out / "budget.png"))
    best_runs = [r for r in ranked(runs, values, mode) if math.isfinite(values[r.name])][:top]
    figures.append(plots.curves(best_runs, key, mode, out / "curves.png", swept))

    counts = {s: sum(r.status == s for r in runs) for s in ("done", "diverged", "failed", "interrupted", "unfinished")}
    lines = [f"# Sweep report: {sweep_dir}", "",
             f"{len(runs)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ". "
             f"Compared by `{key}` ({'lower' if mode == 'min' else 'higher'} is better), the {value} evaluation of "
             "each run; runs that did not finish (failed, diverged, unfinished) have none.", "",
             *optuna_summary(sweep_dir, runs), "## Runs", "",
             *markdown_table([{**row, "run": row["job"]} for row in table],
                             [c for c in table[0] if c not in ("reason", "job")]),
             "", "Run folders, reasons and full-precision values: `runs.csv`.", "",
             "## Per factor", "", *factor_summary(runs, values, mode), "",
             *findings_section(runs, values, key, mode, swept, out)]
    stopped = [r for r in runs if r.status != "done"]
    if stopped:
        lines += ["## Failed, diverged or unfinished runs", "",
                  *(f"- `{r.name}`: {r.status}: {r.reason}" for r in stopped), ""]
    lines += ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in figures), ""]
    (out / "report.md").write_text("\n".join(lines))
    return out
