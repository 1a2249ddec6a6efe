"""From a composed Hydra config to a fitted run: instantiate every part, then `trainer.fit`."""
import logging
import os
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan_lightning.checkpoint import resolved_config
from gan_lightning.errors import ConfigError, one_line_errors

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig) -> L.LightningModule:
    """The LightningModule with its nets, loss, regularizer and optimizer factories."""
    return instantiate(
        cfg.module,
        generator=instantiate(cfg.arch.generator),
        discriminator=instantiate(cfg.arch.discriminator),
        loss=instantiate(cfg.loss),
        regularizer=instantiate(cfg.regularizer),
        g_optimizer=instantiate(cfg.optimizer.generator),
        d_optimizer=instantiate(cfg.optimizer.discriminator),
    )


def build_trainer(cfg: DictConfig) -> L.Trainer:
    """The Trainer with the configured callbacks and loggers (each group entry may be null to drop it)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not cfg.trainer.get("enable_progress_bar", True):  # else Lightning refuses our progress bar
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer]:
    """Datamodule, module and trainer for one run; the seed fixes the initial weights."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.dataset)
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


def summary(cfg: DictConfig, datamodule: L.LightningDataModule, module: L.LightningModule) -> str:
    """One line: the chosen options, the data and the size of the nets."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    picked = " ".join(f"{g}={choices[g]}" for g in ("arch", "loss", "regularizer", "dataset") if g in choices)
    sizes = ", ".join(f"{name} {sum(p.numel() for p in getattr(module, name).parameters()) / 1e6:.2f}M params"
                      for name in ("generator", "discriminator"))
    return f"{picked} | {datamodule.describe()} | {sizes} | {cfg.total_kimg} kimg, n_critic {cfg.n_critic}"


def run(cfg: DictConfig) -> float | None:
    """Train as the config says; bad input or a diverged run ends with a one-line message."""
    return one_line_errors(_fit, cfg, also=(FloatingPointError,))


def _fit(cfg: DictConfig) -> float | None:
    missing = sorted(key for key in OmegaConf.missing_keys(cfg) if not key.startswith("hydra"))
    if missing:
        raise ConfigError(f"{missing[0]} must be set (the config says ???); accepted: {missing[0]}=<value> "
                          "on the command line, e.g. dataset.root=/path/to/images")
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None and not Path(ckpt_path).is_file():
        raise ConfigError(f"ckpt_path={ckpt_path!r} does not exist; accepted: a checkpoint file such as "
                          "outputs/runs/<run>/checkpoints/last.ckpt")
    datamodule, module, trainer = build(cfg)
    if trainer.is_global_zero:
        log.info("run: %s", summary(cfg, datamodule, module))
        log.info("output: %s", os.path.abspath(cfg.paths.output_dir))
    record_config(cfg, trainer)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metric = trainer.callback_metrics.get(cfg.get("optimized_metric") or "")
    return None if metric is None else float(metric)
