"""Every penalty of gan_lightning/objectives/regularizers.py against the reference code: the value and the
gradient w.r.t. the weights of a small plain-torch D (tests/test_parity.Probe), or of G for ortho.

References (fetch each; nothing is vendored; only the named functions run):
- POSTECH-CVLab/PyTorch-StudioGAN src/utils/losses.py at 947b35e9835b67860fdce44d337f6d7fee7c8db3:
  cal_grad_penalty (GP), cal_dra_penalty (DRAGAN), cal_r1_reg (R1; on fakes, R2)
- NVlabs/stylegan2-ada-pytorch training/loss.py at d72cc7d041b42ec8e806021a205ed9349f87c6a4: StyleGAN2Loss,
  phase 'Dreg' (R1 with r1_gamma = 10; the gradient is what its backward() leaves in D's .grad)
- ajbrock/BigGAN-PyTorch utils.py at 98459431a5d618d644d54cd1e9fceb1e5045648d: ortho (it adds the gradient
  2 * beta * (W W^T * (1 - I)) W to .grad directly; there is no value to compare)

The random draws of GP and DRAGAN (interpolation weights, perturbations) are recorded from the reference's
torch.rand calls and replayed to ours.

    python bench/parity/penalties.py --studiogan /tmp/studiogan --stylegan2ada /tmp/stylegan2-ada-pytorch \
        --biggan /tmp/biggan

writes tests/fixtures/parity/penalty_<ours>_<reference>.npz.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
from torch import autograd  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from bench.parity.common import (  # noqa: E402
    check_ours,
    import_file,
    load_functions,
    save_fixture,
    stub_modules,
)
from tests.test_parity import Probe  # noqa: E402

N = 4
SCRIPT = "bench/parity/penalties.py"
TARGET = "gan_lightning.objectives.regularizers."
STUDIOGAN = "POSTECH-CVLab/PyTorch-StudioGAN@947b35e9835b67860fdce44d337f6d7fee7c8db3 src/utils/losses.py"
STYLEGAN2ADA = "NVlabs/stylegan2-ada-pytorch@d72cc7d041b42ec8e806021a205ed9349f87c6a4 training/loss.py"
BIGGAN = "ajbrock/BigGAN-PyTorch@98459431a5d618d644d54cd1e9fceb1e5045648d utils.py ortho"
D_SPEC = [["conv", 3, 4, 3, 2, 1], ["softplus"], ["conv", 4, 4, 3, 2, 1], ["tanh"], ["flatten"], ["linear", 64, 1]]
G_SPEC = [["conv", 3, 6, 3, 1, 1], ["linear", 5, 4], ["linear", 3, 7]]


@contextmanager
def recorded_rand(draws: list[torch.Tensor]):
    """Record every torch.rand the reference makes, in order."""
    real_rand = torch.rand

    def record(*args, **kwargs):
        out = real_rand(*args, **kwargs)
        draws.append(out.detach().clone().flatten())
        return out

    torch.rand = record
    try:
        yield
    finally:
        torch.rand = real_rand


def studio_d(probe: Probe):
    return lambda x, c, eval=False: {"adv_output": probe(x)}


def fixture(name: str, probe: Probe, target: str, kwargs: dict, reference: str, value: torch.Tensor | None,
            inputs: dict, note: str, on: str = "discriminator") -> None:
    params = list(probe.parameters())
    found = [p.grad for p in params] if value is None else autograd.grad(value, params, allow_unused=True)
    grads = {f"grad/{n}": torch.zeros_like(p) if g is None else g.clone()
             for (n, p), g in zip(probe.named_parameters(), found)}
    out = grads | ({"value": value.detach()} if value is not None else {})
    meta = {"kind": "penalty", "target": TARGET + target, "kwargs": kwargs, "probe": probe.spec, "on": on,
            "reference": reference, "script": SCRIPT, "outputs": sorted(out), "note": note}
    save_fixture(name, meta, probe.state_dict(), inputs, out)
    check_ours(name)


def make_probe(spec: list, seed: int) -> Probe:
    torch.manual_seed(seed)
    probe = Probe(spec)
    probe.spec = spec
    return probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("studiogan", "stylegan2ada", "biggan"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args()
    stub_modules("utils", "utils.style_ops")  # StudioGAN's losses.py imports; the functions below need neither
    studio = load_functions(args.studiogan / "src/utils/losses.py",
                            ["cal_deriv", "cal_grad_penalty", "cal_dra_penalty", "cal_r1_reg"],
                            {"torch": torch, "autograd": autograd, "F": F})
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(N, 3, 16, 16, generator=generator) * 2 - 1
    fake = torch.rand(N, 3, 16, 16, generator=generator) * 2 - 1
    c = torch.zeros(N, dtype=torch.long)

    for name, target, fn in (("penalty_gp_studiogan", "GradientPenalty", "cal_grad_penalty"),
                             ("penalty_dragan_studiogan", "DRAGAN", "cal_dra_penalty")):
        probe, draws = make_probe(D_SPEC, 1), []
        with recorded_rand(draws):
            if fn == "cal_grad_penalty":
                value = studio[fn](real, c, fake, studio_d(probe), "cpu")
            else:
                value = studio[fn](real, c, studio_d(probe), "cpu")
        inputs = {"real": real, "fake": fake} | {f"rand{i}": d for i, d in enumerate(draws)}
        fixture(name, probe, target, {"weight": 1.0}, STUDIOGAN, value, inputs,
                "the reference's torch.rand draws replayed to ours")

    for name, target, images in (("penalty_r1_studiogan", "R1", real), ("penalty_r2_studiogan", "R2", fake)):
        probe = make_probe(D_SPEC, 2)
        x = images.clone().requires_grad_(True)
        value = studio["cal_r1_reg"](probe(x), x, "cpu")
        fixture(name, probe, target, {"weight": 1.0}, STUDIOGAN, value, {"real": real, "fake": fake},
                "R2 is StudioGAN's cal_r1_reg on the fakes")

    # stylegan2-ada: the Dreg phase of StyleGAN2Loss with our probe as D; its backward fills probe's .grad
    loss_module = import_file(args.stylegan2ada, "training.loss")
    reported = {}
    loss_module.training_stats.report = lambda name, value: reported.setdefault(name, value)
    probe = make_probe(D_SPEC, 3)
    loss = loss_module.StyleGAN2Loss("cpu", None, None, probe, r1_gamma=10.0)
    loss.accumulate_gradients("Dreg", real, None, None, None, sync=False, gain=1.0)
    value = (reported["Loss/r1_penalty"] * (10.0 / 2)).mean().detach()
    grads = {n: torch.zeros_like(p) if p.grad is None else p.grad.clone() for n, p in probe.named_parameters()}
    out = {f"grad/{n}": g for n, g in grads.items()} | {"value": value}
    meta = {"kind": "penalty", "target": TARGET + "R1", "kwargs": {"weight": 10.0}, "probe": D_SPEC,
            "on": "discriminator", "reference": STYLEGAN2ADA, "script": SCRIPT, "outputs": sorted(out),
            "note": "gradients from the reference's backward(); value = mean of its reported r1_penalty * gamma / 2"}
    save_fixture("penalty_r1_stylegan2ada", meta, probe.state_dict(), {"real": real, "fake": fake}, out)
    check_ours("penalty_r1_stylegan2ada")

    # BigGAN-PyTorch utils.ortho: the gradient of the orthogonal regularization, added to .grad
    ortho = load_functions(args.biggan / "utils.py", ["ortho"], {"torch": torch})["ortho"]
    probe = make_probe(G_SPEC, 4)
    for p in probe.parameters():
        p.grad = torch.zeros_like(p)
    with torch.no_grad():
        for p in probe.parameters():
            p.mul_(3.0)  # larger weights: the gradient grows as |W|^3
    ortho(probe, strength=0.01)
    fixture("penalty_ortho_biggan", probe, "Orthogonal", {"generator_weight": 0.01}, BIGGAN, None, {},
            "BigGAN's ortho gives only the gradient; biases (1-D) are skipped by both", on="generator")


if __name__ == "__main__":
    main()
