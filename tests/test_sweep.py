"""Sweeps as a user runs them: a 2x2 grid with wandb offline and its report, Optuna, joblib, submitit, SLURM config."""
import csv
import glob
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from torch.testing import assert_close

from gan_lightning.report import write_report
from tests.conftest import REPO, compose, tiny

# Tiny toy runs (5 batches of 8 points) with the mode statistics 3 times per run.
TOY = tiny("mlp", "dataset=ring", "metrics.every_kimg=0.016", "metrics.n_samples=256")


def sweep(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`python train.py -m <args>` with one thread per process (the jobs of a sweep share the CPU)."""
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", **env,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}  # for submitit's job process
    return subprocess.run([sys.executable, str(REPO / "train.py"), "-m", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def last_jsonl(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["values"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """A 2x2 grid (loss x regularizer) of tiny runs logging to CSV and to wandb offline."""
    root = tmp_path_factory.mktemp("grid")
    result = sweep([*TOY, "loss=ns,lsgan", "regularizer=none,r1", "logger=[csv,wandb]",
                    f"hydra.sweep.dir={root / 'sweep'}"], root, WANDB_MODE="offline")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "sweep"


def test_a_grid_and_its_report_whose_values_are_the_logged_ones(grid, tmp_path):
    runs = sorted(p for p in grid.iterdir() if p.is_dir())
    assert [p.name for p in runs] == ["000_loss=ns,regularizer=none", "001_loss=ns,regularizer=r1",
                                      "002_loss=lsgan,regularizer=none", "003_loss=lsgan,regularizer=r1"]
    out = write_report(grid, tmp_path / "report", metric="metrics/kl")
    with open(out / "runs.csv", newline="") as file:
        table = {row["run"]: row for row in csv.DictReader(file)}
    assert set(table) == {p.name for p in runs}
    for run in runs:
        row, logged = table[run.name], last_jsonl(run)
        assert row["status"] == "done" and row["reason"] == ""
        assert (row["loss"], row["regularizer"], row["normalization"]) == (*run.name[4:].replace("loss=", "").replace(
            "regularizer=", "").split(","), "none")
        assert_close(float(row["kl"]), logged["kl"])  # the last evaluation, full precision
        assert_close(float(row["last modes"]), logged["modes"])
        assert_close(float(row["last high_quality"]), logged["high_quality"])
        with open(run / "csv" / "metrics.csv", newline="") as file:
            kl = [r["metrics/kl"] for r in csv.DictReader(file) if r["metrics/kl"]]
        assert_close(float(row["kl"]), float(kl[-1]))  # the same value in every logger
        best = min(json.loads(line)["values"]["kl"] for line in (run / "metrics.jsonl").read_text().splitlines())
        assert_close(float(row["best kl"]), best)
    for name in ("by_factor_kl", "by_factor_modes", "by_factor_high_quality", "budget", "curves"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
        assert f"![{name}]({name}.png)" in (out / "report.md").read_text()
    assert "4 runs: 4 done" in (out / "report.md").read_text()


def test_the_report_lists_diverged_failed_and_unfinished_runs_with_their_reason(grid, tmp_path):
    import shutil

    for name in ("000_loss=ns,regularizer=none", "001_loss=ns,regularizer=r1", "002_loss=lsgan,regularizer=none"):
        shutil.copytree(grid / name, tmp_path / name)
    diverged, unfinished = tmp_path / "001_loss=ns,regularizer=r1", tmp_path / "002_loss=lsgan,regularizer=none"
    with open(diverged / "train.log", "a") as log:
        log.write("[2026-11-24 12:00:00,000][gan_lightning.run.build][ERROR] - error: loss/d became NaN/inf at 0.3 kimg\n")
    text = (unfinished / "train.log").read_text()
    (unfinished / "train.log").write_text(text[: text.index("done: ")])  # as if killed before its end
    (tmp_path / "003_loss=hinge" / ".hydra").mkdir(parents=True)  # stopped by bad input: Hydra's record and the log
    (tmp_path / "003_loss=hinge" / ".hydra" / "overrides.yaml").write_text("- loss=hinge\n- n_critic=0\n")
    (tmp_path / "003_loss=hinge" / "train.log").write_text("[x][gan_lightning.run.build][ERROR] - error: n_critic=0 "
                                                            "is not supported; accepted: an integer >= 1\n")
    report = (write_report(tmp_path) / "report.md").read_text()
    assert "4 runs: 1 done, 1 diverged, 1 failed, 1 unfinished" in report
    assert "- `001_loss=ns,regularizer=r1`: diverged: loss/d became NaN/inf at 0.3 kimg" in report
    assert "- `002_loss=lsgan,regularizer=none`: unfinished: no final line in train.log" in report
    assert "- `003_loss=hinge`: failed: n_critic=0 is not supported" in report
    with open(tmp_path / "report" / "runs.csv", newline="") as file:
        table = {row["run"]: row for row in csv.DictReader(file)}
    assert table["003_loss=hinge"]["loss"] == "hinge"  # from the override when config.yaml is missing
    scored = [table[name]["high_quality"] != "" for name in sorted(table)]  # metrics.best of the toy runs
    assert scored == [True, False, False, False]  # only the finished run has a value


def wandb_records(run_dir: Path) -> list:
    """The records of the run's offline `.wandb` file (wandb's LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    raw = Path(glob.glob(str(run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))[0]).read_bytes()
    assert raw[:4] == b":W&B"
    records, chunk, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", raw[pos + 4:pos + 7])  # after a 4-byte checksum
        chunk, pos = chunk + raw[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def test_wandb_offline_runs_of_a_sweep_share_a_group_and_are_tagged_with_their_overrides(grid):
    for run_dir in sorted(p for p in grid.iterdir() if p.is_dir()):
        records = wandb_records(run_dir)
        run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        assert run.run_group == "sweep"  # the sweep folder's name
        loss, regularizer = run_dir.name[4:].split(",")
        assert {loss, regularizer, "dataset=ring"} <= set(run.tags)
        history = [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
                   for r in records if r.WhichOneof("record_type") == "history"]
        logged = [h for h in history if "metrics/kl" in h][-1]
        assert_close(logged["metrics/kl"], last_jsonl(run_dir)["kl"])
        assert any("loss/d" in h for h in history)


def test_a_run_that_diverges_in_a_sweep_returns_its_reason_and_the_sweep_goes_on(monkeypatch, tmp_path):
    from gan_lightning.run import build

    cfg = compose(tiny("mlp", "dataset=ring", "regularizer=r1", "regularizer.r1.weight=1e40"), tmp_path)
    monkeypatch.setattr(build, "sweeping", lambda: True)
    result = build.run(cfg)
    assert result.startswith("error: reg/r1") and "became NaN/inf at" in result


def test_an_optuna_search_records_trials_failures_and_best_parameters_and_survives_a_restart(tmp_path):
    import optuna

    db = tmp_path / "db" / "study.db"
    args = ["hparams_search=toy_optuna", *TOY, "hydra.sweeper.sampler.seed=1", "regularizer.r1.weight=choice(0.01,1e40)",
            f"hydra.sweeper.storage=${{gan.sqlite:{db}}}"]
    result = sweep([*args, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path / 'first'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="ring_mlp", storage=f"sqlite:///{db}")
    states = [t.state.name for t in study.trials]
    assert len(states) == 3 and "COMPLETE" in states and "FAIL" in states, states
    assert "became NaN/inf" in result.stdout + result.stderr  # the failed trial's reason, in the sweep's log
    reasons = [t.user_attrs.get("fail_reason", "") for t in study.trials if t.state.name == "FAIL"]
    assert reasons and all(r.startswith("reg/r1") and "became NaN/inf at" in r for r in reasons), reasons  # the study
    report = (write_report(tmp_path / "first") / "report.md").read_text()
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert f"- trial {failed[0].number} (FAIL): {reasons[0]}" in report, report
    best = yaml.safe_load((tmp_path / "first" / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) >= {"optimizer.generator.lr", "n_critic", "regularizer.r1.weight"}
    assert best["best_params"]["regularizer.r1.weight"] == 0.01
    finished = [p for p in (tmp_path / "first").iterdir() if (p / "metrics.jsonl").is_file() and
                "done:" in (p / "train.log").read_text()]
    assert_close(best["best_value"], min(last_jsonl(p)["kl"] for p in finished))  # optimized_metric=metrics/kl

    again = sweep([*args, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={tmp_path / 'second'}"], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(optuna.load_study(study_name="ring_mlp", storage=f"sqlite:///{db}").trials) == 4


def test_joblib_runs_two_jobs_in_parallel_processes(tmp_path):
    result = sweep([*TOY, "launcher=joblib", "seed=0,1", f"hydra.sweep.dir={tmp_path}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    for name in ("000_seed=0", "001_seed=1"):
        assert "done: 0.040 kimg" in (tmp_path / name / "train.log").read_text()


def test_submitit_runs_a_job_through_its_local_executor(tmp_path):
    result = sweep([*TOY, "launcher=submitit_local", "seed=range(3,4)", f"hydra.sweep.dir={tmp_path}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = tmp_path / "000_seed=3" / "train.log"  # named by the swept key, as in the submitting process
    assert "done: 0.040 kimg" in log.read_text()
    assert glob.glob(str(tmp_path / ".submitit" / "*" / "*_result.pkl"))  # the job ran as a submitit job


def test_launcher_slurm_sets_one_task_per_gpu_and_lightnings_ddp():
    cfg = compose(["launcher=slurm", "hydra.launcher.gpus_per_node=4", "hydra.launcher.partition=gpu"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    assert (launcher.tasks_per_node, cfg.trainer.devices, cfg.trainer.num_nodes) == (4, 4, 1)
    assert cfg.trainer.strategy == "ddp_find_unused_parameters_true" and cfg.trainer.accelerator == "gpu"
    assert launcher.max_num_timeout > 0 and launcher.timeout_min > 0
    assert cfg.ckpt_path is None  # a first start: no last.ckpt in the job folder yet


def test_a_requeued_slurm_job_resumes_from_the_checkpoint_in_its_folder(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    cfg = compose(["launcher=slurm", f"hydra.runtime.output_dir={tmp_path}"])
    assert cfg.ckpt_path == f"{tmp_path}/checkpoints/last.ckpt"
