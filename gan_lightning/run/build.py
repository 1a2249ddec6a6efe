"""From a composed Hydra config to a fitted run: instantiate every part, then `trainer.fit`.

`run` is what train.py calls: a fresh run records its config (and the group choices) in every checkpoint;
`ckpt_path=` resumes with the config stored in the checkpoint (gan_lightning/run/resume.py). The console gets
a summary line, the output folder, the progress bar and a final line; train.log gets the resolved config,
losses at an interval, Lightning's messages and any error (conf/hydra/default.yaml routes them).
"""
import contextlib
import logging
import os
import time
from pathlib import Path

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelSummary, ProgressBar
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lightning.errors import ConfigError
from gan_lightning.run.checkpoint import resolve_ckpt_path, resolved_config
from gan_lightning.run.cli import (
    check_partial,
    check_scalars,
    drop_unchosen_penalties,
    instantiate_error,
)
from gan_lightning.run.folder import RunLock, check_room, last_checkpoint, remove_stale_temporaries
from gan_lightning.run.resume import resume_config, typed_keys
from gan_lightning.run.trials import record_failure
from gan_lightning.training.checkpoint_io import (
    check_weights_fit,
    checkpoint_config,
    instantiate_module,
    read_checkpoint,
)
from gan_lightning.training.preemption import Preempted, leave_no_result
from gan_lightning.training.schedule import run_finished

log = logging.getLogger(__name__)  # console and train.log
record = logging.getLogger("gan_lightning.record")  # train.log only


def build_module(cfg: DictConfig) -> L.LightningModule:
    """The LightningModule with its nets, loss, regularizer and optimizer factories; typed optimizer arguments checked."""
    return instantiate_module(cfg, check_partial)


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler (`trainer.profiler=null`) without its cost: Lightning wraps each of the
    ~180 hook calls of a batch in `profiler.profile(...)`, which builds a generator-based context manager
    even when nothing is recorded (0.2 ms a batch on CPU, bench/RESULTS.md). Here it is one shared no-op."""

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:
        return self._nothing


def build_trainer(cfg: DictConfig) -> L.Trainer:
    """The Trainer with the configured callbacks and loggers (each group entry may be null to drop it)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not cfg.trainer.get("enable_progress_bar", True):  # else Lightning refuses our progress bar
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if not cfg.trainer.get("enable_model_summary", True):
        callbacks = [c for c in callbacks if not isinstance(c, ModelSummary)]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg]
    profiler = {} if cfg.trainer.get("profiler") else {"profiler": NoProfiler()}  # trainer.profiler=simple etc. stay
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **profiler)


def set_c_dim(cfg: DictConfig, datamodule: L.LightningDataModule) -> None:
    """Conditional runs: `c_dim` (read by the arch configs) becomes the number of classes in the data."""
    c_dim = cfg.get("c_dim") or 0
    if not cfg.dataset.get("conditional", False):
        if c_dim:
            raise ConfigError(f"c_dim={c_dim!r} needs labels; accepted: 0, or dataset.conditional=true "
                              "(c_dim is then set from the data)")
        return
    classes = datamodule.num_classes  # loads the data once (kept for training); folders know it only now
    if c_dim not in (0, classes):
        raise ConfigError(f"c_dim={c_dim!r} does not match the {classes} classes of the data; accepted: 0 or "
                          f"{classes} (dataset.conditional=true sets it from the data)")
    cfg.c_dim = classes


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer]:
    """Datamodule, module and trainer for one run; the seed fixes the initial weights."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.dataset)
    set_c_dim(cfg, datamodule)
    module = build_module(cfg)
    module.run_config = resolved_config(cfg)  # saved in every checkpoint: a checkpoint rebuilds its run
    trainer = build_trainer(cfg)
    return datamodule, module, trainer


def record_config(cfg: DictConfig, trainer: L.Trainer) -> None:
    """Write the resolved config to `<output_dir>/config.yaml` and give it to every logger."""
    config = resolved_config(cfg)
    if trainer.is_global_zero:
        path = Path(cfg.paths.output_dir) / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(OmegaConf.to_yaml(config))
        os.replace(tmp, path)
    for logger in trainer.loggers:
        logger.log_hyperparams(config)


def run_length(cfg: DictConfig) -> str:
    """'60 kimg', '100000 G steps', or both when both are set."""
    parts = [f"{cfg.total_kimg:g} kimg" if cfg.total_kimg is not None else "",
             f"{cfg.total_g_steps} G steps" if cfg.total_g_steps is not None else ""]
    return " or ".join(p for p in parts if p) or "no end (stop with Ctrl-C)"


def summary(cfg: DictConfig, datamodule: L.LightningDataModule, module: L.LightningModule) -> str:
    """One line: the chosen options, the data, the size of the nets and the run length."""
    choices = cfg.get("choices") or (HydraConfig.get().runtime.choices if HydraConfig.initialized() else {})
    picked = " ".join(f"{g}={choices[g]}" for g in ("arch", "loss", "regularizer", "augment", "dataset")
                      if g in choices and (g != "augment" or choices[g] != "none"))
    sizes = ", ".join(f"{name} {sum(p.numel() for p in getattr(module, name).parameters()) / 1e6:.2f}M params"
                      for name in ("generator", "discriminator"))
    return f"{picked} | {datamodule.describe()} | {sizes} | {run_length(cfg)}, n_critic {cfg.n_critic}"


def explain(error: BaseException, cfg: DictConfig) -> str | None:
    """The one line for bad input or a diverged run; None for anything else (a bug: keep its traceback)."""
    cause = error
    while cause is not None and not isinstance(cause, (ConfigError, FloatingPointError)):
        cause = cause.__cause__
    if cause is not None:
        return str(cause)
    typed = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return instantiate_error(error, cfg, typed)


def sweeping() -> bool:
    """Whether this process runs one job of a Hydra multirun (any sweeper, any launcher)."""
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run(cfg: DictConfig) -> float | str | None:
    """Train as the config says; bad input or a diverged run ends with a one-line message (also in train.log).

    Returns the value of `optimized_metric` (None when it is not set). In a sweep a run that stops with a
    one-line error returns that line instead of exiting, so the sweep goes on: Hydra's sweeps ignore the
    value, Optuna records the trial as failed with the line as its `fail_reason` (run/trials.py), the report
    lists it.
    """
    try:
        with RunLock(cfg.paths.output_dir):  # one run at a time in a folder; released also on error
            value = _fit(cfg)
    except Exception as error:  # instantiate() wraps errors of constructors: find ours in the chain
        message = explain(error, cfg)
        if message is None:
            record.exception("stopped by an unexpected error")
            if sweeping():
                record_failure(f"unexpected error: {type(error).__name__}: {error}")
            raise
        if sweeping():  # the console and train.log; an Optuna trial keeps it as its fail_reason
            log.error("error: %s", message)
            record_failure(message)
            return f"error: {message}"
        record.error("error: %s", message)
        raise SystemExit(f"error: {message}") from None
    if isinstance(value, str) and sweeping():  # optimized_metric was not logged: the trial fails with this line
        record_failure(value.removeprefix("error: "))
    return value


def optimized_value(cfg: DictConfig, trainer: L.Trainer) -> float | str | None:
    """The run's last logged value of `optimized_metric` (e.g. metrics/kl) for a sweeper; a reason if absent."""
    key = cfg.get("optimized_metric")
    if not key:
        return None
    value = trainer.callback_metrics.get(key)
    if value is None:
        logged = ", ".join(sorted(k for k in trainer.callback_metrics if k.startswith("metrics/"))) or "none"
        return f"error: optimized_metric={key} was not logged; logged metrics: {logged}"
    return float(value)


def _run_config(cfg: DictConfig) -> tuple[DictConfig, dict | None]:
    """The config this launch trains with, and the checkpoint it resumes (None for a new run)."""
    missing = sorted(OmegaConf.missing_keys(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])))
    if missing:
        raise ConfigError(f"{missing[0]} must be set (the config says ???); accepted: {missing[0]}=<value> "
                          "on the command line, e.g. dataset.root=/path/to/images")
    check_scalars(cfg)
    for name in drop_unchosen_penalties(cfg):  # e.g. arch=pggan loss=wgangp regularizer=r1: GP's settings
        chosen = [str(key) for key in cfg.regularizer]
        log.info("regularizer.%s: a preset's settings for %s are not used, as it is not among the chosen "
                 "penalties; add it with regularizer=[%s]", name, name, ",".join([*chosen, name]))
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    choices = {group: option for group, option in choices.items() if not group.startswith("hydra") and option}
    typed = cfg.get("ckpt_path")
    ckpt_path = resolve_ckpt_path(typed, cfg.paths.output_dir)
    with open_dict(cfg):
        cfg.ckpt_path = ckpt_path  # `last` or a run folder, as the file it names
    if ckpt_path is None:
        if typed == "last":
            log.info("ckpt_path=last: no checkpoint in %s yet; starting the run", Path(cfg.paths.output_dir).resolve())
        with open_dict(cfg):
            cfg.choices = cfg.get("choices") or choices
        return cfg, None
    checkpoint = read_checkpoint(ckpt_path, key="ckpt_path")
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    resumed, changed = resume_config(cfg, checkpoint_config(checkpoint, ckpt_path), overrides)
    with open_dict(resumed):
        resumed.choices = resumed.get("choices") or {}
        for group in typed_keys(overrides):
            if group in ("logger", "trainer") and group in choices:
                resumed.choices[group] = choices[group]
    clock = checkpoint.get("clock", {})
    log.info("resume: %s at %.3f kimg%s", ckpt_path, clock.get("nimg", 0) / 1000,
             f"; changed: {', '.join(changed)}" if changed else "")
    return resumed, checkpoint


def _fit(cfg: DictConfig) -> float | str | None:
    cfg, checkpoint = _run_config(cfg)
    output_dir = os.path.abspath(cfg.paths.output_dir)
    record.info("config:\n%s", OmegaConf.to_yaml(resolved_config(cfg)).rstrip())
    if checkpoint is not None:
        nimg, batches = (int(checkpoint.get("clock", {}).get(k, 0)) for k in ("nimg", "batches"))
        if run_finished(nimg, batches // cfg.n_critic, cfg.total_kimg, cfg.total_g_steps):
            log.info("finished already: %.3f kimg, %d G steps of %s; raise total_kimg or total_g_steps to "
                     "train on", nimg / 1000, batches // cfg.n_critic, run_length(cfg))
            return None
        max_steps = cfg.trainer.get("max_steps")
        if max_steps is not None and 0 <= max_steps <= checkpoint.get("global_step", 0):
            log.info("finished already: trainer.max_steps=%d reached at %.3f kimg; add trainer.max_steps=-1 (or "
                     "more) to train on", max_steps, nimg / 1000)
            return None
    datamodule, module, trainer = build(cfg)
    if checkpoint is not None:
        check_weights_fit(module, checkpoint, cfg.ckpt_path, "ckpt_path")
    remove_stale_temporaries(last_checkpoint(cfg).parent)  # a SIGKILL mid-save leaves one; its room counts below
    check_room(cfg, module)  # on every process: one that stopped alone would leave the others waiting
    if trainer.is_global_zero:
        log.info("run: %s", summary(cfg, datamodule, module))
        log.info("output: %s", output_dir)
    record_config(cfg, trainer)
    start, start_cpu = time.monotonic(), time.process_time()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except (Preempted, SIGTERMException) as stop:  # a checkpoint was saved at the end of the batch
        if not isinstance(stop, Preempted):
            stop = Preempted("SIGTERM", module.nimg, module.batches, last_checkpoint(cfg))
        if trainer.is_global_zero:
            log.info(stop.resume_line())
        leave_no_result(stop)
        return None
    finally:  # loggers that hold a process-wide run (wandb) end it: the next job of a sweep starts its own
        for logger in trainer.loggers:
            getattr(logger, "close", lambda: None)()
    if trainer.is_global_zero:
        how = "interrupted" if trainer.interrupted else "done"
        measured = [text for cb in trainer.callbacks if (text := getattr(cb, "final_summary", lambda: "")())]
        log.info("%s: %.3f kimg, %d G steps in %.0f s (CPU %.0f s); %ssamples, checkpoints and logs in %s",
                 how, module.nimg / 1000, module.g_steps, time.monotonic() - start, time.process_time() - start_cpu,
                 "".join(f"{text}; " for text in measured), output_dir)
    return optimized_value(cfg, trainer)
