"""`python -m gan_lightning.report <multirun dir>`: a sweep's runs as a Markdown and CSV table and PNG plots.

Reads every run folder of the sweep (its resolved `config.yaml`, `metrics.jsonl`, `train.log`) and writes to
`<multirun dir>/report/` (or `--out`): `report.md`, `runs.csv`, `by_factor_<metric>.png` (the metric per
loss, regularizer and normalization), `budget.png` (the best metric against the number of runs trained) and
`curves.png` (the learning curves of the top runs). Failed, diverged and unfinished runs are listed with
their reason, never dropped. From Python: `write_report(sweep_dir)`.
"""
from gan_lightning.report.runs import Run, read_run, read_sweep
from gan_lightning.report.write import write_report

__all__ = ["Run", "read_run", "read_sweep", "write_report"]
