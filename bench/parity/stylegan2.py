"""Parity fixture for arch=stylegan2 against NVlabs/stylegan2-ada-pytorch (commit
d72cc7d041b42ec8e806021a205ed9349f87c6a4): `training/networks.py` (Generator, Discriminator) and
`training/loss.py` (StyleGAN2Loss: the Greg phase's path length penalty, the Dreg phase's R1).

    python bench/parity/stylegan2.py --ref /tmp/stylegan2-ada-pytorch

On a CPU the reference's custom ops take their pure-PyTorch paths (upfirdn2d and bias_act impl='ref',
conv2d_gradfix off). The script builds the reference G and D at a small width with a fixed seed (weights
perturbed so biases, noise strengths and w_avg are not 0), maps them to our names with an explicit table, feeds
the same z, c, images, noise (noise_mode='const', the buffers are weights) and path-length directions, and
writes tests/fixtures/parity/families/stylegan2.npz: `meta` (JSON: reference, commit, our config overrides), `w/G/...`,
`w/D/...` (the reference's weights under our names), `in/...`, `out/...` (the reference's outputs: images,
logits, the input gradient of the summed logits, the path length and R1 penalties, pl_mean after the step and
the gradients they give G's and D's weights). Nothing of ours makes `out/`; tests/test_parity_stylegan2.py checks ours.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "fixtures" / "parity" / "families" / "stylegan2.npz"
R, Z_DIM, W_DIM, C_DIM, N = 16, 8, 16, 3, 4
GAMMA, PL_WEIGHT, PL_DECAY, PL_SHRINK, PL_INTERVAL, R1_INTERVAL = 0.5, 2.0, 0.01, 2, 4, 16
# our config: arch=stylegan2 at this width (tests/test_parity_stylegan2.py composes the same)
OVERRIDES = ["arch=stylegan2", f"dataset.resolution={R}", "dataset.channels=3", f"z_dim={Z_DIM}", f"c_dim={C_DIM}",
             f"arch.generator.w_dim={W_DIM}", "arch.generator.mapping_layers=2", "arch.generator.channel_base=128",
             "arch.generator.max_channels=16", "arch.generator.mixing_prob=0.0", "arch.discriminator.channel_base=128",
             "arch.discriminator.max_channels=16", "arch.discriminator.mbstd_group_size=2",
             "arch.discriminator.mbstd_num_channels=2", "arch.discriminator.mapping_layers=2",
             "arch.generator.output_tanh=false"]  # the reference's linear output


def our_name(key: str) -> str | None:
    """The name table: reference state_dict key -> ours (None: the FIR filter buffers, constants we do not store)."""
    if key.endswith("resample_filter"):
        return None
    key = re.sub(r"^mapping\.fc(\d+)\.", r"mapping.layers.\1.", key)
    key = re.sub(r"^synthesis\.b(\d+)\.", lambda m: f"blocks.{int(m.group(1)).bit_length() - 3}.", key)  # b4 -> 0
    if key.startswith("b4."):
        return "epilogue." + key[3:]
    return re.sub(r"^b(\d+)\.", lambda m: f"blocks.{R.bit_length() - int(m.group(1)).bit_length()}.", key)  # bR -> 0


class ConstNoise(torch.nn.Module):
    """The reference synthesis net with noise_mode='const' (its loss calls it with the default 'random')."""

    def __init__(self, synthesis: torch.nn.Module) -> None:
        super().__init__()
        self.synthesis = synthesis

    def forward(self, ws):
        return self.synthesis(ws, noise_mode="const")


def perturbed(net: torch.nn.Module, scale: float = 0.3) -> torch.nn.Module:
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, required=True, help="a checkout of NVlabs/stylegan2-ada-pytorch")
    ref = parser.parse_args().ref.resolve()
    sys.path.insert(0, str(ref))
    from training import loss as ref_loss
    from training import networks

    torch.manual_seed(0)
    G = perturbed(networks.Generator(Z_DIM, C_DIM, W_DIM, R, 3, mapping_kwargs={"num_layers": 2},
                                     synthesis_kwargs={"channel_base": 128, "channel_max": 16}))
    D = perturbed(networks.Discriminator(C_DIM, R, 3, architecture="resnet", channel_base=128, channel_max=16,
                                         mapping_kwargs={"num_layers": 2},
                                         epilogue_kwargs={"mbstd_group_size": 2, "mbstd_num_channels": 2}))
    with torch.no_grad():
        G.mapping.w_avg.normal_()
    arrays = {f"w/G/{our_name(k)}": v.clone() for k, v in G.state_dict().items() if our_name(k)}  # w_avg moves later
    arrays |= {f"w/D/{our_name(k)}": v.clone() for k, v in D.state_dict().items() if our_name(k)}
    z, c, img = torch.randn(N, Z_DIM), torch.tensor([0, 2, 1, 1]), torch.randn(N, 3, R, R)
    onehot = F.one_hot(c, C_DIM).float()
    arrays |= {"in/z": z, "in/c": c, "in/img": img}

    G.eval()
    with torch.no_grad():
        for psi, name in ((1.0, "img"), (0.7, "img_psi0.7")):
            arrays[f"out/G/{name}"] = G(z, onehot, truncation_psi=psi, noise_mode="const")
    x = img.clone().requires_grad_(True)
    logits = D(x, onehot)[:, 0]
    (grad,) = torch.autograd.grad(logits.sum(), x)
    arrays |= {"out/D/logits": logits.detach(), "out/D/img_grad": grad}

    # training/loss.py: the Greg phase (path length) and the Dreg phase (R1), gain = their intervals
    G.train()
    stats = {}
    loss = ref_loss.StyleGAN2Loss("cpu", G.mapping, ConstNoise(G.synthesis), D, style_mixing_prob=0, r1_gamma=GAMMA,
                                  pl_batch_shrink=PL_SHRINK, pl_decay=PL_DECAY, pl_weight=PL_WEIGHT)
    loss.pl_mean.fill_(0.5)  # a running mean under way: the lerp is tested
    pl_direction = torch.randn(N // PL_SHRINK, 3, R, R)  # what torch.randn_like(gen_img) draws in Gpl
    report = ref_loss.training_stats.report
    ref_loss.training_stats.report = lambda name, value: stats.__setitem__(name, value) or report(name, value)
    real_randn_like = torch.randn_like
    with contextlib.ExitStack() as stack:
        stack.callback(setattr, torch, "randn_like", real_randn_like)
        torch.randn_like = lambda t, **kwargs: pl_direction.clone() if t.shape == pl_direction.shape \
            else real_randn_like(t, **kwargs)
        G.requires_grad_(True)
        loss.accumulate_gradients("Greg", img, onehot, z, onehot, sync=True, gain=PL_INTERVAL)
    arrays |= {"in/pl_direction": pl_direction, "in/pl_mean": torch.tensor(0.5), "out/pl_mean": loss.pl_mean.clone(),
               "out/pl": stats["Loss/pl_penalty"].mean() * PL_WEIGHT * PL_INTERVAL}
    arrays |= {f"out/pl_grad/{our_name(k)}": p.grad for k, p in G.named_parameters() if p.grad is not None}
    D.requires_grad_(True)
    loss.accumulate_gradients("Dreg", img, onehot, z, onehot, sync=True, gain=R1_INTERVAL)
    arrays["out/r1"] = stats["Loss/r1_penalty"].mean() * GAMMA / 2 * R1_INTERVAL
    arrays |= {f"out/r1_grad/{our_name(k)}": p.grad for k, p in D.named_parameters() if p.grad is not None}

    commit = subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"reference": "NVlabs/stylegan2-ada-pytorch", "commit": commit or "d72cc7d041b42ec8e806021a205ed9349f87c6a4",
            "overrides": OVERRIDES, "r1": {"weight": GAMMA, "interval": R1_INTERVAL},
            "path_length": {"generator_weight": PL_WEIGHT, "generator_interval": PL_INTERVAL, "decay": PL_DECAY,
                            "batch_shrink": PL_SHRINK}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, meta=np.array(json.dumps(meta)),
                        **{k: v.detach().cpu().numpy() for k, v in arrays.items()})
    print(f"{OUT}: {OUT.stat().st_size / 1024:.0f} KiB, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
