"""DCGAN against two references.

1. Radford et al.'s DCGAN (our `arch=dcgan`) against pytorch/examples dcgan/main.py (commit
   77f55b912142e11fcfdf5b530231fb9c52f181e8), the 64x64 net: only its Generator and Discriminator classes run
   (extracted with `ast`; the script's training code does not). Its convs have no biases; ours have one on
   D's first and last conv and on G's last deconv (BatchNorm follows every other layer): they are zero in the
   fixture. Its D ends with a sigmoid; the reference logits are its layers before it.
   Writes tests/fixtures/parity/dcgan64_g.npz and dcgan64_d.npz (both in training mode: BatchNorm on batch
   statistics, D's included).
2. Mimicry's "DCGAN" at 32x32, kwotsin/mimicry torch_mimicry/nets/dcgan/dcgan_32.py (commit
   a7fda06c4aff1e6af8dc4c4a35ed6636e434c766). It is not Radford's net but the SNGAN ResNet without spectral
   norm (its docstrings: "ResNet backbone generator for ResNet DCGAN"), so it checks our `arch=resnet` with
   `arch.discriminator.normalization=none`. Writes mimicry_dcgan32_g.npz (bilinear upsampling, as Mimicry) and
   mimicry_dcgan32_d.npz (Mimicry's in-place ReLU made out-of-place).

    python bench/parity/dcgan.py --examples /tmp/pytorch-examples --ref /tmp/mimicry
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import ast  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bench.parity import mimicry  # noqa: E402
from bench.parity.common import check_ours, d_outputs, map_weights, save_fixture  # noqa: E402
from tests.test_parity import build  # noqa: E402

Z, WIDTH = 16, 16
SCRIPT = "bench/parity/dcgan.py"


NGF, NZ = 4, 16
EXAMPLES = "pytorch/examples@77f55b912142e11fcfdf5b530231fb9c52f181e8 dcgan/main.py"


def examples_classes(root: Path) -> dict:
    """pytorch/examples' Generator and Discriminator, with the globals they read (nz, ngf, ndf, nc)."""
    tree = ast.parse((root / "dcgan/main.py").read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in ("Generator", "Discriminator")]
    namespace = {"nn": nn, "torch": torch, "nz": NZ, "ngf": NGF, "ndf": NGF, "nc": 3}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), "main.py", "exec"), namespace)
    return namespace


def radford(root: Path) -> None:
    classes = examples_classes(root)
    generator = torch.Generator().manual_seed(0)
    z, x = torch.randn(4, NZ, generator=generator), torch.rand(4, 3, 64, 64, generator=generator) * 2 - 1
    common = {"kind": "net", "mode": "train", "reference": EXAMPLES, "script": SCRIPT,
              "note": "BatchNorm on batch statistics; our extra biases zero"}
    torch.manual_seed(0)
    theirs = classes["Generator"](0).train()
    meta = common | {"target": "gan_lightning.nets.dcgan.Generator", "role": "generator", "outputs": ["y"],
                     "kwargs": dict(z_dim=NZ, img_resolution=64, img_channels=3, channels=NGF, max_channels=8 * NGF)}
    table = [(f"net.{i}.0", f"main.{3 * i}") for i in range(4)] + [(f"net.{i}.1", f"main.{3 * i + 1}") for i in range(4)]
    table.append(("net.4", "main.12"))
    weights = map_weights(build(meta), theirs.state_dict(), table, {"net.4.bias": torch.zeros(3)})
    with torch.no_grad():
        y = theirs.main(z[:, :, None, None])
    save_fixture("dcgan64_g", meta, weights, {"z": z}, {"y": y})
    check_ours("dcgan64_g")

    torch.manual_seed(1)
    theirs = classes["Discriminator"](0).train()
    meta = common | {"target": "gan_lightning.nets.dcgan.Discriminator", "role": "discriminator",
                     "outputs": ["y", "grad_x"],
                     "kwargs": dict(img_resolution=64, img_channels=3, channels=NGF, max_channels=8 * NGF)}
    table = [("net.0.0", "main.0"), ("net.1.0", "main.2"), ("net.1.1", "main.3"), ("net.2.0", "main.5"),
             ("net.2.1", "main.6"), ("net.3.0", "main.8"), ("net.3.1", "main.9"), ("net.4", "main.11")]
    zero = {"net.0.0.bias": torch.zeros(NGF), "net.4.bias": torch.zeros(1)}
    weights = map_weights(build(meta), theirs.state_dict(), table, zero)
    save_fixture("dcgan64_d", meta, weights, {"x": x}, d_outputs(theirs.main[:-1], x, None))  # before its sigmoid
    check_ours("dcgan64_d")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=Path, required=True, help="a checkout of pytorch/examples")
    parser.add_argument("--ref", type=Path, required=True, help="a checkout of kwotsin/mimicry")
    args = parser.parse_args()
    radford(args.examples)
    ref = args.ref
    module = mimicry.net_module(ref, "dcgan", "dcgan_32")
    torch.manual_seed(0)
    mimicry.generator_fixture("mimicry_dcgan32_g", SCRIPT, "dcgan/dcgan_32.py DCGANGenerator32",
                              module.DCGANGenerator32(nz=Z, ngf=WIDTH), "gan_lightning.nets.resnet.Generator",
                              dict(z_dim=Z, img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH,
                                   upsample="bilinear"),
                              mimicry.g_table(conditional=False), None, 0, "train",
                              "BatchNorm on batch statistics; bilinear upsampling")
    torch.manual_seed(1)
    mimicry.discriminator_fixture("mimicry_dcgan32_d", SCRIPT, "dcgan/dcgan_32.py DCGANDiscriminator32",
                                  module.DCGANDiscriminator32(ndf=WIDTH), "gan_lightning.nets.resnet.Discriminator",
                                  dict(img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH,
                                       normalization="none"),
                                  mimicry.d_table(conditional=False), None, 0)


if __name__ == "__main__":
    main()
