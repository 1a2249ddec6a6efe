"""The GAN Landscape's findings (Kurach et al. 2019) checked on a sweep over loss x D normalization x penalty x
seed (experiment=landscape_mnist): each a verdict, "holds", "does not hold" or "cannot tell (missing cells)",
with the numbers that decide it and a plot.

A cell is one (loss, normalization, regularizer) setting; its score is the median over its runs (the seeds, and
the learning rates when swept) of each run's final metric, as in the paper. A diverged run scores the worst
value (inf for a lower-is-better metric); a failed or unfinished run has none. A cell without any value is
missing, and a finding that needs it cannot tell.

Within noise: a cell's spread is half the range (max - min) of its finite values over seeds (0 for one value);
the noise of two cells is the mean of their spreads. A beats B when A's median is better than B's by more than
that noise, they tie when the difference is within it. A finding that compares one option with another across
the other factors (SN against none, for each loss x regularizer) holds when the option wins in a strict majority
of the matched pairs.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from gan_lightning.report.runs import Run

Cell = tuple[str, str, str]  # (loss, normalization, regularizer)
HOLDS, FAILS, MISSING = "holds", "does not hold", "cannot tell (missing cells)"
CELL_FACTORS = ("loss", "normalization", "regularizer")  # columns of runs.FACTORS, in a Cell's order


@dataclass
class Stat:
    """A cell's median over its runs, its spread (half the range of the finite values) and its run count."""

    median: float
    spread: float
    n: int


@dataclass
class Finding:
    """One finding's verdict, the lines with its numbers, and what its plot shows: {group: {series: Stat}}."""

    key: str
    title: str
    verdict: str = MISSING
    lines: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, Stat]] = field(default_factory=dict)


def applies(runs: list[Run], swept: list[str]) -> bool:
    """Whether the sweep has seeds and varies the loss, the D normalization and the regularizer."""
    return "seed" in swept and all(len({r.factors.get(f) for r in runs}) > 1 for f in CELL_FACTORS)


def cell_stats(runs: list[Run], values: dict[str, float], mode: str) -> dict[Cell, Stat]:
    """Median and spread per cell of the runs with a value (diverged: the worst value)."""
    worst = math.inf if mode == "min" else -math.inf
    scores: dict[Cell, list[float]] = {}
    for run in runs:
        value = worst if run.status == "diverged" else values.get(run.name, math.nan)
        if not math.isnan(value):
            scores.setdefault(tuple(run.factors[f] for f in CELL_FACTORS), []).append(value)
    return {cell: stat(v) for cell, v in scores.items()}


def stat(values: list[float]) -> Stat:
    finite = [v for v in values if math.isfinite(v)]
    spread = (max(finite) - min(finite)) / 2 if finite else math.nan
    return Stat(statistics.median(values), spread, len(values))


def gain(a: Stat, b: Stat, mode: str) -> float:
    """How much better A's median is than B's (positive: A better)."""
    difference = b.median - a.median if mode == "min" else a.median - b.median
    return 0.0 if math.isnan(difference) else difference  # inf - inf: both diverged, a tie


def noise(a: Stat, b: Stat) -> float:
    return statistics.mean([s for s in (a.spread, b.spread) if math.isfinite(s)] or [0.0])


def beats(a: Stat, b: Stat, mode: str) -> bool:
    return gain(a, b, mode) > noise(a, b)


def show(x: float) -> str:
    return f"{x:.4g}"


def pairwise(finding: Finding, stats: dict[Cell, Stat], pairs: list[tuple[str, Cell, Cell]], names: tuple[str, str],
             mode: str) -> tuple[int, int, list[str]]:
    """Fill the finding's lines and plot groups for `pairs` (label, cell A, cell B); (A's wins, complete pairs,
    missing cells)."""
    wins, complete, missing = 0, 0, []
    for label, a, b in pairs:
        if a not in stats or b not in stats:
            missing += ["/".join(c) for c in (a, b) if c not in stats]
            continue
        complete += 1
        won = beats(stats[a], stats[b], mode)
        wins += won
        outcome = "wins" if won else ("loses" if beats(stats[b], stats[a], mode) else "ties (within noise)")
        finding.lines.append(f"- {label}: {names[0]} {show(stats[a].median)} ± {show(stats[a].spread)} vs "
                             f"{names[1]} {show(stats[b].median)} ± {show(stats[b].spread)}: {names[0]} {outcome} "
                             f"(difference {show(gain(stats[a], stats[b], mode))}, noise {show(noise(stats[a], stats[b]))})")
        finding.groups[label] = {names[0]: stats[a], names[1]: stats[b]}
    return wins, complete, sorted(set(missing))


def majority(finding: Finding, wins: int, complete: int, missing: list[str], what: str) -> None:
    """Verdict by a strict majority of the matched pairs; cannot tell when a cell is missing (or none matched)."""
    finding.lines.insert(0, f"{what} in {wins} of {complete} matched settings (holds: more than half).")
    if missing or not complete:
        finding.lines.append(f"- missing cells (loss/normalization/regularizer): {', '.join(missing) or 'all'}")
        finding.verdict = MISSING
    else:
        finding.verdict = HOLDS if wins > complete / 2 else FAILS


def options(runs: list[Run], factor: str) -> list[str]:
    return sorted({r.factors[factor] for r in runs})


def option_effect(key: str, title: str, runs: list[Run], stats: dict[Cell, Stat], mode: str, better: str,
                  worse: str) -> Finding:
    """`better` normalization beats `worse` for each loss x regularizer ((b) SN over none, (d) none over BN)."""
    finding = Finding(key, title)
    pairs = [(f"{loss} / {reg}", (loss, better, reg), (loss, worse, reg))
             for loss in options(runs, "loss") for reg in options(runs, "regularizer")]
    wins, complete, missing = pairwise(finding, stats, pairs, (better, worse), mode)
    majority(finding, wins, complete, missing, f"normalization={better} beats {worse} beyond noise")
    return finding


def stable_loss(runs: list[Run], stats: dict[Cell, Stat], mode: str) -> Finding:
    """(a) ns's median of cell medians is within noise of the best loss's, and its spread is among the smallest."""
    finding = Finding("a", "the non-saturating loss is stable")
    cells = [(l, n, r) for l in options(runs, "loss") for n in options(runs, "normalization")
             for r in options(runs, "regularizer")]
    missing = [c for c in cells if c not in stats]
    per_loss = {loss: Stat(statistics.median([stats[c].median for c in cells if c[0] == loss and c in stats] or [math.nan]),
                           statistics.median([stats[c].spread for c in cells if c[0] == loss and c in stats] or [math.nan]),
                           sum(stats[c].n for c in cells if c[0] == loss and c in stats))
                for loss in options(runs, "loss")}
    finding.groups = {loss: {"median of cell medians": s} for loss, s in per_loss.items()}
    for loss, s in per_loss.items():
        finding.lines.append(f"- loss={loss}: median of its cell medians {show(s.median)}, median seed spread "
                             f"{show(s.spread)} ({s.n} runs)")
    if missing or "ns" not in per_loss:
        finding.lines.append(f"- missing cells: {', '.join('/'.join(c) for c in missing) or 'loss=ns'}")
        return finding
    best = min(per_loss, key=lambda l: per_loss[l].median if mode == "min" else -per_loss[l].median)
    ns, top = per_loss["ns"], per_loss[best]
    close = not beats(top, ns, mode)
    ranked = sorted(per_loss, key=lambda l: per_loss[l].spread)
    rank = ranked.index("ns") + 1
    small = rank <= math.ceil(len(ranked) / 2)
    finding.lines.insert(0, f"best loss {best} ({show(top.median)}); ns {show(ns.median)}, difference "
                         f"{show(gain(top, ns, mode))} against noise {show(noise(top, ns))}: "
                         f"{'within' if close else 'beyond'} noise; ns spread {show(ns.spread)} ranks {rank} of "
                         f"{len(ranked)} (smallest first; among the smallest: rank <= {math.ceil(len(ranked) / 2)}).")
    finding.verdict = HOLDS if close and small else FAILS
    return finding


def penalty_cost(runs: list[Run], stats: dict[Cell, Stat], mode: str) -> Finding:
    """(c) gp beats none for each loss x normalization, and its runs take more seconds."""
    finding = Finding("c", "the gradient penalty helps but costs more (quality per CPU-second)")
    pairs = [(f"{loss} / {norm}", (loss, norm, "gp"), (loss, norm, "none"))
             for loss in options(runs, "loss") for norm in options(runs, "normalization")]
    wins, complete, missing = pairwise(finding, stats, pairs, ("gp", "none"), mode)
    seconds = {reg: [r.seconds for r in runs if r.factors["regularizer"] == reg and math.isfinite(r.seconds)]
               for reg in ("gp", "none")}
    majority(finding, wins, complete, missing, "regularizer=gp beats none beyond noise")
    if finding.verdict == MISSING:
        return finding
    if not all(seconds.values()):
        finding.lines.append("- no run time (the 'done: ... in N s' line) for gp or none runs")
        finding.verdict = MISSING
        return finding
    cost = {reg: statistics.median(s) for reg, s in seconds.items()}
    quality = {reg: statistics.median([s.median for c, s in stats.items() if c[2] == reg]) for reg in cost}
    finding.lines.insert(1, f"median training seconds per run (CPU where logged, else wall): gp {show(cost['gp'])}, none {show(cost['none'])} "
                         f"(x{show(cost['gp'] / cost['none'])}); median cell score: gp {show(quality['gp'])}, "
                         f"none {show(quality['none'])}; score gained per extra CPU-second "
                         f"{show((quality['none'] - quality['gp']) * (1 if mode == 'min' else -1) / max(cost['gp'] - cost['none'], 1e-9))}.")
    if finding.verdict == HOLDS and cost["gp"] <= cost["none"]:
        finding.verdict = FAILS  # helps, but does not cost more
    return finding


def combined(runs: list[Run], stats: dict[Cell, Stat], mode: str) -> Finding:
    """(e) gp with SN (else LN) beats both SN alone and gp alone, for each loss."""
    norm = "spectral" if "spectral" in options(runs, "normalization") or "layer" not in options(runs, "normalization") else "layer"
    finding = Finding("e", f"GP combined with {'SN' if norm == 'spectral' else 'LN'} improves on either alone")
    wins, complete, missing = 0, 0, []
    for loss in options(runs, "loss"):
        both, alone, gp = (loss, norm, "gp"), (loss, norm, "none"), (loss, "none", "gp")
        absent = [c for c in (both, alone, gp) if c not in stats]
        if absent:
            missing += ["/".join(c) for c in absent]
            continue
        complete += 1
        won = beats(stats[both], stats[alone], mode) and beats(stats[both], stats[gp], mode)
        wins += won
        finding.groups[loss] = {f"{norm}+gp": stats[both], f"{norm} alone": stats[alone], "gp alone": stats[gp]}
        finding.lines.append(f"- {loss}: {norm}+gp {show(stats[both].median)} ± {show(stats[both].spread)}, {norm} alone "
                             f"{show(stats[alone].median)} ± {show(stats[alone].spread)}, gp alone {show(stats[gp].median)}"
                             f" ± {show(stats[gp].spread)}: {'beats both' if won else 'does not beat both'} beyond noise")
    majority(finding, wins, complete, missing, f"{norm}+gp beats both {norm} alone and gp alone beyond noise")
    return finding


def findings(runs: list[Run], values: dict[str, float], mode: str) -> list[Finding]:
    """The five findings (a)-(e) on the sweep's runs, `values` being each run's final metric (NaN: none)."""
    stats = cell_stats(runs, values, mode)
    return [stable_loss(runs, stats, mode),
            option_effect("b", "spectral normalization improves on no normalization", runs, stats, mode, "spectral", "none"),
            penalty_cost(runs, stats, mode),
            option_effect("d", "batch norm in D hurts", runs, stats, mode, "none", "batch"),
            combined(runs, stats, mode)]
