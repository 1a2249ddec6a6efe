"""The GAN Landscape's findings in the sweep report (gan_lightning/report/findings.py) on synthetic run tables
whose verdicts are known, and experiment=landscape_mnist composing with its sweep."""
import itertools
import json
import math
from pathlib import Path

import pytest
import yaml

from gan_lightning.report import write_report
from gan_lightning.report.findings import FAILS, HOLDS, MISSING, applies, findings
from gan_lightning.report.runs import Run, swept_keys
from tests.conftest import compose

LOSSES, NORMS, REGS, SEEDS = ("ns", "lsgan", "wgan"), ("none", "batch", "spectral"), ("none", "gp", "r1"), (0, 1, 2)
NOISE = (-0.5, 0.0, 0.5)  # per seed: the spread of every cell is 0.5


def holding(loss: str, norm: str, reg: str) -> float:
    """A landscape where every finding holds: SN and GP help, GP+SN best, BN hurts, ns ties the best loss."""
    score = {"ns": 10.0, "lsgan": 10.0, "wgan": 14.0}[loss]
    score += {"none": 0.0, "batch": 6.0, "spectral": -3.0}[norm]
    score += {"none": 0.0, "gp": -3.0, "r1": -1.0}[reg]
    return score - (2.0 if (norm, reg) == ("spectral", "gp") else 0.0)


def failing(loss: str, norm: str, reg: str) -> float:
    """Every finding fails: ns is worst, SN hurts, GP hurts, BN helps, GP+SN no better than either."""
    score = {"ns": 20.0, "lsgan": 10.0, "wgan": 10.0}[loss]
    score += {"none": 0.0, "batch": -3.0, "spectral": 3.0}[norm]
    return score + {"none": 0.0, "gp": 3.0, "r1": 0.0}[reg]


def table(score, seconds=lambda reg: 200.0 if reg == "gp" else 100.0, skip=()) -> tuple[list[Run], dict[str, float]]:
    """Runs of the full grid with value score(cell) + seed noise (ns spread 0.5, others 2 in `failing`)."""
    runs, values = [], {}
    for i, (loss, norm, reg, seed) in enumerate(itertools.product(LOSSES, NORMS, REGS, SEEDS)):
        if (loss, norm, reg) in skip:
            continue
        run = Run(Path(f"{i:03d}"), status="done", seconds=seconds(reg),
                  factors={"loss": loss, "normalization": norm, "regularizer": reg},
                  overrides={"loss": loss, "arch.discriminator.normalization": norm, "regularizer": reg, "seed": str(seed)})
        wide = 4 if score is failing and loss == "ns" else 1  # ns the least stable in `failing`
        values[run.name] = score(loss, norm, reg) + wide * NOISE[seed]
        runs.append(run)
    return runs, values


def verdicts(runs, values) -> dict[str, str]:
    return {f.key: f.verdict for f in findings(runs, values, "min")}


def test_every_finding_holds_on_a_table_built_so():
    runs, values = table(holding)
    assert applies(runs, swept_keys(runs))
    assert verdicts(runs, values) == dict.fromkeys("abcde", HOLDS)


def test_every_finding_fails_on_a_table_built_so():
    assert verdicts(*table(failing)) == dict.fromkeys("abcde", FAILS)


def test_a_gp_that_helps_but_costs_nothing_more_does_not_hold():
    assert verdicts(*table(holding, seconds=lambda reg: 100.0))["c"] == FAILS


def test_a_difference_within_the_seed_spread_is_a_tie():
    runs, values = table(lambda loss, norm, reg: 10.0 + (0.4 if norm == "spectral" else 0.0))
    b = next(f for f in findings(runs, values, "min") if f.key == "b")
    assert b.verdict == FAILS and "beats none beyond noise in 0 of 9" in b.lines[0]
    assert all("ties (within noise)" in line for line in b.lines[1:])


def test_missing_cells_cannot_tell_and_name_the_cells():
    runs, values = table(holding, skip={("ns", "spectral", "gp"), ("lsgan", "batch", "none")})
    found = {f.key: f for f in findings(runs, values, "min")}
    assert {k: f.verdict for k, f in found.items()} == dict.fromkeys("abcde", MISSING)
    assert "ns/spectral/gp" in found["e"].lines[-1] and "lsgan/batch/none" in found["d"].lines[-1]


def test_diverged_runs_score_the_worst_value_and_unfinished_ones_none():
    runs, values = table(holding)
    for run in runs:
        if run.factors == {"loss": "ns", "normalization": "none", "regularizer": "gp"}:
            run.status = "diverged"
            values[run.name] = math.nan
    assert verdicts(runs, values)["c"] == HOLDS  # ns/none: gp now loses, 8 of 9 still win
    assert next(f for f in findings(runs, values, "min") if f.key == "c").lines[0].startswith(
        "regularizer=gp beats none beyond noise in 8 of 9")


def write_sweep(root: Path, score) -> Path:
    """The table of `score` as run folders, as a sweep leaves them."""
    runs, values = table(score)
    for run in runs:
        folder = root / run.name
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"{k}={v}" for k, v in run.overrides.items()]))
        config = {"choices": {"loss": run.factors["loss"], "regularizer": run.factors["regularizer"]},
                  "arch": {"discriminator": {"normalization": run.factors["normalization"]}},
                  "optimized_metric": "metrics/fid_mnist", "metrics": {"best": "fid_mnist", "best_mode": "min"}}
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
        (folder / "metrics.jsonl").write_text(json.dumps({"kimg": 24, "values": {"fid_mnist": values[run.name]}}) + "\n")
        (folder / "train.log").write_text(f"done: 24.000 kimg, 375 G steps in {run.seconds:.0f} s; logs in {folder}\n")
    return root


def test_the_report_states_each_verdict_with_a_plot(tmp_path):
    out = write_report(write_sweep(tmp_path / "sweep", holding))
    text = (out / "report.md").read_text()
    for key in "abcde":
        assert f"### ({key}) " in text and (out / f"finding_{key}.png").is_file()
    assert text.count(": holds\n") == 5 and "median training seconds per run (CPU where logged, else wall): gp 200, none 100" in text


def test_a_sweep_without_seeds_gets_no_findings(tmp_path):
    root = write_sweep(tmp_path / "sweep", holding)
    for folder in root.iterdir():  # one seed only: the toy landscape's shape
        if yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())[-1] != "seed=0":
            for path in sorted(folder.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            folder.rmdir()
    text = (write_report(root) / "report.md").read_text()
    assert "Findings" not in text and not list((root / "report").glob("finding_*.png"))


@pytest.mark.parametrize("loss,regularizer", [("wgan", "gp"), ("wgan", "none"), ("ns", "r1"), ("lsgan", "gp")])
def test_landscape_mnist_composes_with_its_sweep_and_instantiates(tmp_path, loss, regularizer):
    from gan_lightning.run.build import build_module

    cfg = compose(["experiment=landscape_mnist", f"loss={loss}", f"regularizer={regularizer}"], tmp_path)
    assert dict(cfg.hydra.sweeper.params) == {"loss": "ns,lsgan,wgan", "arch.discriminator.normalization": "none,batch,spectral",
                                              "regularizer": "none,gp", "seed": "0,1,2"}
    assert cfg.n_critic == 1 and cfg.optimizer.discriminator._target_ == "torch.optim.Adam"  # not wgan's RMSProp
    assert list(cfg.regularizer) == ([] if regularizer == "none" else [regularizer])  # gp replaces wgan's clipping
    assert cfg.metrics.best == "fid_mnist" and cfg.optimized_metric == "metrics/fid_mnist"
    assert cfg.metrics.every_kimg * 4 == cfg.total_kimg and cfg.dataset.resolution == 32
    build_module(cfg)


def test_run_time_sums_the_done_lines_of_its_launches_so_a_lengthened_run_counts_both_parts(tmp_path):
    from gan_lightning.report.runs import read_seconds

    log = tmp_path / "train.log"
    log.write_text("[t][x][INFO] - done: 24.000 kimg, 375 G steps in 231 s; logs in x\n"   # total_kimg=24
                   "[t][x][INFO] - done: 48.000 kimg, 750 G steps in 229 s; logs in x\n"   # then 48, resumed
                   "[t][x][INFO] - done: 48.000 kimg, 750 G steps in 3 s; logs in x\n")    # launched again
    assert read_seconds(log) == 463.0 and math.isnan(read_seconds(tmp_path / "none.log"))
    log.write_text("[t][x][INFO] - done: 24.000 kimg, 375 G steps in 231 s (CPU 150 s); logs in x\n")
    assert read_seconds(log) == 150.0  # CPU seconds where the line has them: wall time depends on the load


def test_a_run_stopped_by_the_logit_bound_is_diverged_not_failed(tmp_path):
    from gan_lightning.report.runs import read_status

    log = tmp_path / "train.log"
    log.write_text("[t][gan_lightning.run.build][ERROR] - error: logits/real (|x| = 5.29e+06), logits/fake (|x| = "
                   "4.43e+06) passed module.max_abs_logit=1e+06 at 6.016 kimg (batch 94); the last checkpoint was not "
                   "overwritten. Try lower learning rates\n")
    assert read_status(log)[0] == "diverged"  # scored as the worst value, not a missing cell
    log.write_text("[t][gan_lightning.run.build][ERROR] - error: dataset.root='/x' does not exist\n")
    assert read_status(log)[0] == "failed"
