"""A failed Optuna trial keeps its reason in the study.

hydra-optuna-sweeper records a trial whose job returns no number (our `error: ...` line: a diverged run, bad
input) as FAIL, but keeps the line only in its console log. The job itself writes the line into the study, as
the trial's user attribute `fail_reason` (what `optuna.Study.optimize` keeps for a failed objective), so that
`study.trials` and the sweep report (gan_lightning/report) say why. The job finds its trial among the study's
running ones by its parameters, which the sweeper passed to it as overrides (`name=value`).
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

FAIL_REASON = "fail_reason"


def optuna_study() -> tuple[str, str] | None:
    """(storage, study_name) when this job is a trial of an Optuna sweep with a storage, else None."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    sweeper = HydraConfig.get().sweeper
    if "optuna" not in str(sweeper.get("_target_", "")).lower() or not sweeper.get("storage"):
        return None  # another sweeper, or an in-memory study the job cannot reach
    return str(sweeper.storage), str(sweeper.study_name)


def matching_trial(trials: list, overrides: list[str]):
    """The running trial (lowest number first) whose every parameter appears in `overrides` as `name=value`."""
    typed = set(overrides)
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.params and all(f"{name}={value}" in typed for name, value in trial.params.items()):
            return trial
    return None


def record_failure(reason: str) -> int | None:
    """Store `reason` as the `fail_reason` of this job's trial; the trial's number, or None (no study, no
    matching trial, or a storage that cannot be written: the sweeper still records the FAIL)."""
    from hydra.core.hydra_config import HydraConfig

    found = optuna_study()
    if found is None:
        return None
    try:
        import optuna

        storage, name = found
        study = optuna.load_study(study_name=name, storage=storage)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        trial = matching_trial(running, [str(o) for o in HydraConfig.get().overrides.task])
        if trial is None:
            return None
        optuna.trial.Trial(study, trial._trial_id).set_user_attr(FAIL_REASON, reason)
    except Exception as error:  # a locked or vanished database must not hide the run's own error line
        log.warning("could not record the failure in the Optuna study: %s", error)
        return None
    log.info("optuna: trial %d of study %s fails: %s", trial.number, name, reason)
    return trial.number
