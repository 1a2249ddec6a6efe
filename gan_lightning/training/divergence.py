"""Divergence: NaN/inf in the losses or the weights, found at the check interval, stops the run or rolls it back.

The check is one host sync every `finite_check_every` batches (and before every checkpoint): one fused norm
per tensor over the last losses and every parameter and buffer; only when one is not finite are the tensors
searched for a name. `on_divergence=rollback` reloads the last good `last.ckpt` (weights, optimizer states, clock) and
multiplies every learning rate by `rollback_lr_factor`, at most `max_rollbacks` times, instead of stopping.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

ADVICE = ("Try lower learning rates, a regularizer (regularizer=r1 or gp), trainer.precision=32-true, or "
          "module.on_divergence=rollback.")


def nonfinite(tensors: dict[str, Tensor]) -> list[str]:
    """The names of the tensors holding a NaN or inf; one host sync when all are finite."""
    tensors = {name: t for name, t in tensors.items() if t.is_floating_point() and t.numel()}
    if not tensors:
        return []
    # One fused norm per tensor (14x faster on CPU than isfinite over every element). A norm is NaN/inf when
    # an element is, and, rarely, when finite values overflow its sum of squares: the exact search clears that.
    norms = torch._foreach_norm(list(tensors.values()))  # in each tensor's dtype; stack promotes
    if bool(torch.stack(norms).isfinite().all()):
        return []
    return [name for name, t in tensors.items() if not bool(torch.isfinite(t).all())]


def module_tensors(module: nn.Module) -> dict[str, Tensor]:
    """Every parameter and floating-point buffer of the nets (G, D, G_ema; a stateful loss or regularizer)."""
    return {name: t.detach() for name, t in module.state_dict(keep_vars=True).items()}


def rollback(module, path: Path, factor: float) -> dict:
    """Load weights, buffers, optimizer states and clock of `path` into the module; lr *= factor everywhere."""
    from gan_lightning.training.checkpoint_io import read_checkpoint

    checkpoint = read_checkpoint(path, map_location=module.device)
    module.load_state_dict(checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    for optimizer, state in zip(module.trainer.optimizers, checkpoint["optimizer_states"], strict=True):
        optimizer.load_state_dict(state)
        for group in optimizer.param_groups:
            group["lr"] *= factor
            factors = group.setdefault("lr_factors", {})  # kept by every lr schedule (callbacks/progressive.py)
            factors["rollback"] = factors.get("rollback", 1.0) * factor
    return checkpoint


def check_finite(module, weights: bool = False) -> bool:
    """GAN.check_finite: stop with one line naming the tensors, or roll back; True if rolled back."""
    losses, tensors = nonfinite(module.last_logs), nonfinite(module_tensors(module)) if weights else []
    if not losses and not tensors:
        return False
    more = f" and {len(tensors) - 3} more tensors" if len(tensors) > 3 else ""
    what = ", ".join([*losses, *tensors[:3]]) + more
    where = f"{module.nimg / 1000:.3f} kimg (batch {module.batches})"
    path = module.rollback_path
    if module.on_divergence == "rollback" and module.rollbacks < module.max_rollbacks and path and path.is_file():
        rollbacks = module.rollbacks + 1
        checkpoint = rollback(module, path, module.rollback_lr_factor)
        module.rollbacks, module.last_logs = rollbacks, {}
        log.warning("%s became NaN/inf at %s; rolled back to %s (%.3f kimg) with learning rates x%g "
                    "(rollback %d of %d)", what, where, path, checkpoint["clock"]["nimg"] / 1000,
                    module.rollback_lr_factor ** rollbacks, rollbacks, module.max_rollbacks)
        return True
    tried = f" after {module.rollbacks} rollbacks" if module.rollbacks else ""
    raise FloatingPointError(f"{what} became NaN/inf at {where}{tried}; the last checkpoint was not "
                             f"overwritten. {ADVICE}")
