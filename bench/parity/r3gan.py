"""Reference numbers for arch=r3gan and loss=rpgan from the official R3GAN code.

Reference: brownvc/R3GAN at commit 19a7ddf463fbac2bd39b4c1c73d63f1c441c7403 (`R3GAN/Networks.py`,
`R3GAN/Trainer.py`; Lemutisme/R3GAN is a fork with the same files). On CPU its BiasedActivation and
interpolative resamplers run their ops' pure-PyTorch paths (`torch_utils/ops/bias_act.py` `_bias_act_ref`,
`upfirdn2d.py` `_upfirdn2d_ref`), so nothing is ported. Its `conv2d_gradfix` imports `pkg_resources` for a
version check only; a stand-in module with `packaging`'s `parse_version` is installed when setuptools is absent.

For a conditional and an unconditional pair of small nets (16x16, three stages of different widths,
cardinalities and block counts) built with a fixed seed, every parameter is redrawn (the zero-initialised
last convs would otherwise make every block the identity), the weights are mapped to our names by the table
in `name_table`, and the same z, c (one-hot for the reference) and images are fed to both. The file holds
the initial weights (our nets built after the same seed
must draw them), the redrawn weights under our names, the inputs, the reference outputs G(z, c), D(x, c), D's input gradient of the
summed logits and R3GAN's R1 / R2 values on these nets; and, on fixed logits, the RpGAN loss values and their
gradients from `AdversarialTraining` (an identity G and D, so its samples are the logits).

    python bench/parity/r3gan.py --ref /tmp/R3GAN [--out tests/fixtures/parity/r3gan.npz]
"""
from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

SETTINGS = {  # (our keyword arguments, with G's stage lists in the order G runs; D runs them reversed)
    "cond": dict(z_dim=8, c_dim=3, width=[16, 12, 8], cardinality=[4, 2, 2], blocks=[1, 2, 1], expansion=2,
                 g_embed=5, d_embed=6),
    "uncond": dict(z_dim=6, c_dim=0, width=[8, 8, 4], cardinality=[2, 4, 1], blocks=[2, 1, 1], expansion=3,
                   g_embed=0, d_embed=0),
}
RESOLUTION, CHANNELS, BATCH, GAMMA = 16, 3, 4, 0.3


def import_reference(ref: Path):
    """R3GAN.Networks and R3GAN.Trainer from a checkout of the reference."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    sys.path.insert(0, str(ref))
    return importlib.import_module("R3GAN.Networks"), importlib.import_module("R3GAN.Trainer")


def name_table(s: dict) -> dict[str, tuple[str, str]]:
    """Reference parameter name -> (our name, how the tensor maps: 'same' or 'transpose')."""
    table = {}

    def block(ref: str, ours: str) -> None:
        for i in (1, 2, 3):
            table[f"{ref}.LinearLayer{i}.Layer.weight"] = (f"{ours}.conv{i}.weight", "same")
        for i in (1, 2):
            table[f"{ref}.NonLinearity{i}.Bias"] = (f"{ours}.act{i}.bias", "same")

    widths, blocks = s["width"], s["blocks"]
    # G: MainLayers[i].Layers = [transition, *blocks]; ours: transitions[i], stages[i][j]
    table["G.MainLayers.0.Layers.0.Basis"] = ("G.transitions.0.basis", "same")
    table["G.MainLayers.0.Layers.0.LinearLayer.weight"] = ("G.transitions.0.linear.weight", "same")
    for i, n in enumerate(blocks):
        if i and widths[i - 1] != widths[i]:
            table[f"G.MainLayers.{i}.Layers.0.LinearLayer.Layer.weight"] = (f"G.transitions.{i}.conv.weight", "same")
        for j in range(n):
            block(f"G.MainLayers.{i}.Layers.{j + 1}", f"G.stages.{i}.{j}")
    table["G.AggregationLayer.Layer.weight"] = ("G.to_image.weight", "same")
    # D: ExtractionLayer, MainLayers[i].Layers = [*blocks, transition]; ours: from_image, stages[i][j], transitions[i]
    d_widths, d_blocks = widths[::-1], blocks[::-1]
    table["D.ExtractionLayer.Layer.weight"] = ("D.from_image.weight", "same")
    for i, n in enumerate(d_blocks):
        for j in range(n):
            block(f"D.MainLayers.{i}.Layers.{j}", f"D.stages.{i}.{j}")
        if i + 1 < len(d_blocks) and d_widths[i] != d_widths[i + 1]:
            table[f"D.MainLayers.{i}.Layers.{n}.LinearLayer.Layer.weight"] = (f"D.transitions.{i}.conv.weight", "same")
    last, n = len(d_blocks) - 1, d_blocks[-1]
    table[f"D.MainLayers.{last}.Layers.{n}.Basis.weight"] = (f"D.transitions.{last}.basis.weight", "same")
    table[f"D.MainLayers.{last}.Layers.{n}.LinearLayer.weight"] = (f"D.transitions.{last}.linear.weight", "same")
    if s["c_dim"]:  # a bias-free Linear on one-hot labels [embed, c_dim] is our Embedding's weight [c_dim, embed]
        table["G.EmbeddingLayer.weight"] = ("G.embed.weight", "transpose")
        table["D.EmbeddingLayer.weight"] = ("D.embed.weight", "transpose")
    return table


def reference_nets(networks, s: dict) -> tuple[nn.Module, nn.Module]:
    cond = dict(ConditionDimension=s["c_dim"]) if s["c_dim"] else {}
    G = networks.Generator(s["z_dim"], s["width"], s["cardinality"], s["blocks"], s["expansion"],
                           ConditionEmbeddingDimension=s["g_embed"], **cond)
    D = networks.Discriminator(s["width"][::-1], s["cardinality"][::-1], s["blocks"][::-1], s["expansion"],
                               ConditionEmbeddingDimension=s["d_embed"], **cond)
    return G, D


def record_weights(G: nn.Module, D: nn.Module, table: dict, prefix: str, out: dict) -> None:
    """Every reference parameter under `prefix/<our name>`, mapped by `table` (which must cover them all)."""
    named = {**{f"G.{k}": v for k, v in G.named_parameters()}, **{f"D.{k}": v for k, v in D.named_parameters()}}
    assert set(table) == set(named), sorted(set(table) ^ set(named))
    for ref_name, (ours, how) in table.items():
        tensor = named[ref_name].detach()
        out[f"{prefix}/{ours}"] = (tensor.T if how == "transpose" else tensor).numpy().copy()


def net_outputs(networks, trainer, key: str, s: dict, out: dict) -> None:
    """Reference G and D of one setting: weights (under our names), inputs, outputs, gradients, R1 / R2."""
    torch.manual_seed(0)
    G, D = reference_nets(networks, s)
    table = name_table(s)
    record_weights(G, D, table, f"{key}/init", out)  # ours built after torch.manual_seed(0) must match these
    with torch.no_grad():  # redraw everything: the last conv of each block and the biases start at zero
        for p in [*G.parameters(), *D.parameters()]:  # weights at 1 / sqrt(fan-in), biases at 0.1: values O(1)
            p.copy_(torch.randn_like(p) * (p[0].numel() ** -0.5 if p.dim() > 1 else 0.1))
    record_weights(G, D, table, f"{key}/weights", out)
    z = torch.randn(BATCH, s["z_dim"])
    c = torch.randint(max(s["c_dim"], 1), (BATCH,))
    onehot = nn.functional.one_hot(c, s["c_dim"]).float() if s["c_dim"] else None
    x = torch.randn(BATCH, CHANNELS, RESOLUTION, RESOLUTION, requires_grad=True)
    with torch.no_grad():
        fake = G(z, onehot)
    logits = D(x, onehot)
    (grad,) = torch.autograd.grad(logits.sum(), x)
    # R3GAN's D step: per-sample R1 on the reals, R2 on G(z, c); the D loss is softplus(-(r - f)) + gamma/2 (R1 + R2)
    _, _, r1, r2 = trainer.AdversarialTraining(G, D).AccumulateDiscriminatorGradients(z, x.detach(), onehot, GAMMA)
    out.update({f"{key}/z": z.numpy(), f"{key}/c": c.numpy(), f"{key}/images": x.detach().numpy(),
                f"{key}/G_out": fake.numpy(), f"{key}/D_logits": logits.detach().numpy(),
                f"{key}/D_input_grad": grad.numpy(), f"{key}/r1": r1.numpy(), f"{key}/r2": r2.numpy()})


def loss_outputs(trainer, out: dict) -> None:
    """RpGAN on fixed logits: the reference losses and their gradients w.r.t. both sides' logits."""
    torch.manual_seed(1)
    real_logits, fake_logits = torch.randn(8) * 2, torch.randn(8) * 2
    seen = []  # the tensors D sees, captured through the Preprocessor hook, to read their gradients

    def identity_d(x, c):
        return x.view(x.shape[0])

    def capture(x):
        seen.append(x)
        return x

    def identity_g(z, c):
        return z

    fake = fake_logits.view(-1, 1, 1, 1).clone().requires_grad_(True)
    loss_g, _ = trainer.AdversarialTraining(identity_g, identity_d).AccumulateGeneratorGradients(
        fake, real_logits.view(-1, 1, 1, 1), None)
    # gamma 0: the D loss alone (the identity D's input gradient is constant, so R1 and R2 add no gradient anyway)
    loss_d, *_ = trainer.AdversarialTraining(identity_g, identity_d).AccumulateDiscriminatorGradients(
        fake_logits.view(-1, 1, 1, 1), real_logits.view(-1, 1, 1, 1), None, 0.0, Preprocessor=capture)
    real_seen, fake_seen = seen
    out.update({"loss/real_logits": real_logits.numpy(), "loss/fake_logits": fake_logits.numpy(),
                "loss/g": loss_g.mean().numpy(), "loss/g_grad_fake": fake.grad.flatten().numpy(),
                "loss/d": loss_d.mean().numpy(), "loss/d_grad_real": real_seen.grad.flatten().numpy(),
                "loss/d_grad_fake": fake_seen.grad.flatten().numpy()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True, help="a checkout of brownvc/R3GAN")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests" / "fixtures"
                        / "parity" / "r3gan.npz")
    args = parser.parse_args()
    networks, trainer = import_reference(args.ref)
    out: dict[str, np.ndarray] = {"resolution": np.array(RESOLUTION), "gamma": np.array(GAMMA)}
    for key, s in SETTINGS.items():
        net_outputs(networks, trainer, key, s, out)
    loss_outputs(trainer, out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"{args.out}: {len(out)} arrays, {args.out.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
