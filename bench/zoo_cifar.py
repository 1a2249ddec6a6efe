"""The zoo on CIFAR-10 (issue 24, item 2): six families at reduced widths under one CPU budget, scored on their G_ema
with the real FID Inception network.

    python bench/zoo_cifar.py --cifar-root ../shared/data/cifar10_jpg.tar.gz                  # every row, 60 CPU min
    python bench/zoo_cifar.py --cifar-root ... --archs resnet,sndcgan --minutes 15 --jobs 1    # some rows
    python bench/zoo_cifar.py --cifar-root ... --table                # the table of every row measured so far

Each row trains on the 50,000 training images (32x32x3) with its family's paper loss, penalty and optimizer at a
reduced width, for `--minutes` CPU minutes of one thread, in its own process (`--row <arch>`), `--jobs` rows at a
time. Every `--curve-minutes` of training CPU the clock stops while G_ema's KID is measured on 500 fakes (the
curve); at the end G_ema's FID and KID (unbiased) on `--n` fakes go against the Inception features of `--ref-n`
training images (a seeded choice, cached with its provenance in <out>/reference_<ref-n>.pt), an 8x8 grid goes to
docs/zoo_cifar/<arch>.png and the row's numbers to <out>/<arch>.json. The CIFAR-10 copy of ../shared is
JPEG-compressed: its numbers compare only inside the project, not with published CIFAR-10 FID or KID.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from quality import cpu_seconds, train
from zoo import BUDGET, CurveBudget, adam, samples, widths

DOCS = Path(__file__).resolve().parents[1] / "docs" / "zoo_cifar"
SEED = 0  # the reference's choice of training images
CURVE_N, CURVE_SEED, FAKE_SEED, GRID_SEED = 500, 7, 1000, 1
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000

# arch -> the family's paper setting at a reduced width (0.1-0.45M parameters per net); `width` and `setting`
# are what the table states. Training CPU of one thread, from 10-20 batch smoke runs on the busy 2-core machine
# (2026-12-07), and the kimg that 60 CPU minutes give at that rate:
#   dcgan 2.1 s/kimg (~1,700 kimg), sndcgan 3.5 (~1,000), resnet 15.6 (~230, ~720 G steps at n_critic 5),
#   biggan 14.9 (~240, ~1,200 G steps at n_critic 4), stylegan2 16.5 (~220), r3gan 16.7 (~215).
ROWS: dict[str, dict] = {
    "dcgan": {"overrides": ["arch=dcgan", "dataset=cifar10", *widths(32, 32), "batch_size=64"],
              "setting": "ns, BN in G and D, Adam 2e-4 (0.5, 0.999), batch 64, z 100 (DCGAN)",
              "width": "G 32, D 32 (max 512)"},
    "sndcgan": {"overrides": ["experiment=sndcgan_cifar10", *widths(16, 16)],
                "setting": "ns, SN D, Adam 2e-4 (0.5, 0.999), batch 64, z 128 (experiment=sndcgan_cifar10, Landscape)",
                "width": "G 16, D 16"},
    "resnet": {"overrides": ["arch=resnet", "dataset=cifar10", "loss=hinge", *adam(2e-4, 2e-4, 0.0, 0.9),
                             *widths(64, 64, 64, 64), "n_critic=5", "batch_size=64", "z_dim=128"],
               "setting": "hinge, SN D, Adam 2e-4 (0, 0.9), n_critic 5, batch 64, z 128 (SNGAN)",
               "width": "G 64, D 64"},
    "biggan": {"overrides": ["experiment=biggan_cifar10", *widths(32, 64, 32, 64), "arch.generator.shared_dim=32",
                             "callbacks.ema.decay_per_g_step=null", "callbacks.ema.start_g_steps=0"],
               "setting": "class-conditional, hinge, SN G and D, ortho 1e-4 on G, Adam 2e-4 (0, 0.999), n_critic 4, "
                          "batch 50, attention at 16 (experiment=biggan_cifar10); EMA half-life 10 kimg, "
                          "not 0.9999/G step",
               "width": "G 32, D 64, shared 32"},
    "stylegan2": {"overrides": ["experiment=stylegan2_cifar10", *widths(1024, 1024, 64, 64, key="channel_base"),
                                "arch.generator.w_dim=128", "z_dim=128", "batch_size=32"],
                  "setting": "ns, R1 0.01 lazy /16, G Adam 0.002 (0, 0.992) / D 0.0025 (0, 0.99), mapping 2, "
                             "no mixing, linear output, batch 32, z = w = 128 (experiment=stylegan2_cifar10)",
                  "width": "channel_base 1024, max 64 (32 at 32x32, 64 below)"},
    "r3gan": {"overrides": ["experiment=r3gan_cifar10", "arch.generator.width=[96,64,32,16]",
                            "arch.generator.cardinality=[4,4,2,2]", "arch.generator.blocks=1",
                            "arch.discriminator.width=[16,32,64,96]", "arch.discriminator.cardinality=[2,2,4,4]",
                            "arch.discriminator.blocks=1", "arch.discriminator.embed_dim=null", "batch_size=64",
                            "augment=none", "callbacks.schedules.augment_p=null"],
              "setting": "class-conditional, RpGAN + R1 + R2 0.05, Adam 2e-4 (0, 0.9), linear output, batch 64, z 64 "
                         "(experiment=r3gan_cifar10 at its schedules' start; no augmentation: its p would still be "
                         "below 0.001 at 215 kimg)",
              "width": "G 96, 64, 32, 16 (4x4 up), D the reverse, 1 block per stage"},
}
ORDER = list(ROWS)


class Reference:
    """Inception features [n, d] of n training images (a seeded choice), cached in <out>/reference_<n>.pt with the
    provenance that identifies them; a cache whose provenance differs is recomputed."""

    def __init__(self, root: str, n: int, out: str, features) -> None:
        from gan_lightning.metrics.features import file_sha256

        data = Path(root).expanduser().resolve()
        self.path = Path(out, f"reference_{n}.pt")
        self.provenance = {"dataset": str(data), "dataset_sha256": file_sha256(data)[:16] if data.is_file() else None,
                           "split": "train", "n": n, "seed": SEED, "features": features.provenance()}
        cached = torch.load(self.path, weights_only=True) if self.path.exists() else None
        if cached is not None and cached["provenance"] == self.provenance:
            self.features = cached["features"]
        else:
            self.features = self.compute(root, n, features)
        self.sha256 = file_sha256(self.path)[:16]

    def compute(self, root: str, n: int, features) -> torch.Tensor:
        from gan_lightning.data.cifar import CIFAR10DataModule

        data = CIFAR10DataModule(root=root, seed=SEED)
        images = data.data[0][torch.randperm(data.num_items, generator=torch.Generator().manual_seed(SEED))[:n]]
        start, out = time.time(), []
        for i, chunk in enumerate(images.split(250)):
            out.append(features(chunk))
            print(f"reference: {min(n, 250 * (i + 1))} / {n} images ({time.time() - start:.0f} s)", flush=True)
        result = torch.cat(out)  # [n, d]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"features": result, "provenance": self.provenance}, self.path)
        return result


class Measure:
    """FID and unbiased KID of uint8 fakes against the reference features, on the reference's feature network."""

    def __init__(self, reference: Reference, features) -> None:
        self.reference, self.features = reference, features

    def kid(self, n_fake: int):
        from gan_lightning.metrics import KID

        return KID(subsets=KID_SUBSETS, subset_size=min(KID_SUBSET_SIZE, n_fake, len(self.reference.features)))

    @torch.no_grad()
    def __call__(self, fakes: torch.Tensor, fid: bool = True) -> dict[str, float]:
        from gan_lightning.metrics import FID

        fake = self.features(fakes)  # [n, d]
        metrics = [self.kid(len(fake)), *([FID()] if fid else [])]
        for metric in metrics:
            metric.update(self.reference.features, real=True)
            metric.update(fake, real=False)
        return {k: v for metric in metrics for k, v in metric.compute().items()}


class KIDCurve(CurveBudget):
    """The CPU budget, plus G_ema's KID on CURVE_N fakes every `every` CPU seconds of training (off the clock);
    each point is also appended to `path` (a row stopped before its end keeps its curve)."""

    def __init__(self, seconds: float, every: float, measure: Measure, path: Path) -> None:
        super().__init__(seconds, every, measure, CURVE_N)
        self.path = path
        path.unlink(missing_ok=True)

    def on_train_start(self, trainer, module) -> None:
        self.start = cpu_seconds()  # the clock starts with the first batch: building and loading are not training

    def point(self, module) -> None:
        from gan_lightning.data.images import to_uint8

        with self.paused():
            values = self.measure(to_uint8(samples(module, self.n, seed=CURVE_SEED)), fid=False)
        self.curve.append({"cpu_min": round(self.used() / 60, 2), "kimg": module.nimg / 1000, **values})
        with self.path.open("a") as f:
            f.write(json.dumps(self.curve[-1]) + "\n")
        print(f"curve {self.curve[-1]}", flush=True)


def row(arch: str, root: str, minutes: float, every_minutes: float, n: int, ref_n: int, out: str,
        features=None, docs: Path = DOCS) -> dict:
    """Train one row in this process and measure it; its numbers also go to <out>/<arch>.json."""
    from gan_lightning.data.images import make_grid, save_image, to_uint8
    from gan_lightning.metrics import InceptionFeatures

    torch.set_num_threads(1)
    features = features if features is not None else InceptionFeatures()
    reference = Reference(root, ref_n, out, features)
    measure = Measure(reference, features)
    budget = KIDCurve(minutes * 60, every_minutes * 60, measure, Path(out, f"{arch}.curve.jsonl"))
    overrides = [*ROWS[arch]["overrides"], f"dataset.root={root}", *BUDGET]
    wall = time.time()
    module, _, _, _ = train(overrides, f"{out}/{arch}", [budget])
    train_cpu = budget.used()
    budget.point(module)  # the curve's last point, on the same fakes
    start = cpu_seconds()
    values = measure(to_uint8(samples(module, n, seed=FAKE_SEED)))
    save_image(make_grid(samples(module, 64, seed=GRID_SEED), cols=8), docs / f"{arch}.png")
    provenance = {"features": features.provenance(), "n_fake": n, "fake_seed": FAKE_SEED, "net": "G_ema",
                  "n_real": ref_n, "reference": str(reference.path), "reference_sha256": reference.sha256,
                  "reference_provenance": reference.provenance, "kid": measure.kid(n).settings(),
                  "curve": {"n_fake": CURVE_N, "fake_seed": CURVE_SEED}, "threads": torch.get_num_threads(),
                  "torch": torch.__version__}
    result = {"arch": arch, "setting": ROWS[arch]["setting"], "width": ROWS[arch]["width"],
              "command": " ".join(["python train.py", *overrides]),
              "budget": f"{minutes:g} CPU minutes of training (bench/zoo_cifar.py's CPU-time callback)",
              "cpu_s": train_cpu, "measure_cpu_s": budget.excluded + cpu_seconds() - start,
              "wall_s": time.time() - wall,
              "nimg": module.nimg, "kimg": module.nimg / 1000,
              "g_params": sum(p.numel() for p in module.generator.parameters()),
              "d_params": sum(p.numel() for p in module.discriminator.parameters()),
              **values, "curve": budget.curve, "provenance": provenance}
    Path(out, f"{arch}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("curve", "provenance")}), flush=True)
    return result


def run_rows(archs: list[str], row_args: list[str], jobs: int, out: str) -> None:
    """Each row in its own `python bench/zoo_cifar.py --row <arch>` process, one thread, `jobs` at a time."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled"}

    def one(arch: str) -> int:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--row", arch, *row_args]
        print(f"started {arch} ({' '.join(cmd[1:])})", flush=True)
        with open(Path(out, f"{arch}.log"), "w") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        print(f"finished {arch}: exit {code}", flush=True)
        return code

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, archs))


def curve_text(points: list[dict]) -> str:
    """`CPU min: KID x 10^3` pairs of a curve."""
    return ", ".join(f"{p['cpu_min']:.0f}: {1e3 * p['kid']:.1f}" for p in points)


def table(archs: list[str], out: str, n: int, ref_n: int) -> str:
    """The markdown table of the rows measured so far (no <out>/<arch>.json: not finished, or not run)."""
    lines = [f"CIFAR-10 from a JPEG-compressed copy (../shared/data/cifar10_jpg.tar.gz, quality about 75): these "
             f"numbers compare only inside the project, not with published CIFAR-10 FID or KID. G_ema on {n:,} fakes "
             f"against the FID Inception features of {ref_n:,} training images (a seeded choice); KID unbiased, "
             f"x 10^3, mean +- std over {KID_SUBSETS} subsets of min({KID_SUBSET_SIZE}, n). CPU min: training only, "
             "one thread; wall min: the row's whole process, measurements included.", "",
             "| arch | setting | width | params G / D | CPU min | wall min | kimg | CPU s/kimg | FID | KID x 10^3 | "
             f"KID x 10^3 curve (CPU min: value, {CURVE_N} fakes) |", "|" + "---|" * 11]
    for arch in archs:
        path, log, curve = (Path(out, f"{arch}{suffix}") for suffix in (".json", ".log", ".curve.jsonl"))
        if not path.exists():
            points = [json.loads(line) for line in curve.read_text().splitlines()] if curve.exists() else []
            status = "not finished" if log.exists() else "not run"
            lines.append(f"| {arch} | {ROWS[arch]['setting']} | {ROWS[arch]['width']} | | | | | | {status} | | "
                         f"{curve_text(points)} |")
            continue
        r = json.loads(path.read_text())
        lines.append(f"| {arch} | {r['setting']} | {r['width']} | {r['g_params'] / 1e6:.2f}M / "
                     f"{r['d_params'] / 1e6:.2f}M | {r['cpu_s'] / 60:.1f} | {r['wall_s'] / 60:.1f} | {r['kimg']:.0f} | "
                     f"{r['cpu_s'] / r['kimg']:.2f} | {r['fid']:.1f} | {1e3 * r['kid']:.1f} +- "
                     f"{1e3 * r['kid_std']:.1f} | {curve_text(r['curve'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cifar-root", required=True, help="CIFAR-10 (e.g. ../shared/data/cifar10_jpg.tar.gz)")
    parser.add_argument("--archs", default=",".join(ORDER), help=f"rows, comma-separated, of {', '.join(ORDER)}")
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget per row in CPU minutes")
    parser.add_argument("--jobs", type=int, default=2, help="rows trained at a time (one thread each)")
    parser.add_argument("--ref-n", type=int, default=5000, help="training images in the reference")
    parser.add_argument("--n", type=int, default=2000, help="fakes for the final FID and KID")
    parser.add_argument("--curve-minutes", type=float, default=15.0, help="CPU minutes between curve points")
    parser.add_argument("--table", action="store_true",
                        help="train nothing: write the table of --archs from the rows <out> holds (rows measured by "
                             "several invocations)")
    parser.add_argument("--row", default=None, help=argparse.SUPPRESS)  # one row, in this process
    parser.add_argument("--out", default="outputs/bench_zoo_cifar")
    args = parser.parse_args()
    if args.row:
        row(args.row, args.cifar_root, args.minutes, args.curve_minutes, args.n, args.ref_n, args.out)
        return
    archs = args.archs.split(",")
    unknown = [a for a in archs if a not in ROWS]
    if unknown:
        parser.error(f"--archs: unknown {', '.join(unknown)}; accepted: {', '.join(ORDER)}")
    if not args.table:
        run(archs, args)
    text = table(archs, args.out, args.n, args.ref_n)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, "zoo_cifar.md").write_text(text + "\n")
    print(text, flush=True)


def run(archs: list[str], args: argparse.Namespace) -> None:
    """The reference once, then the rows, `--jobs` at a time."""
    from gan_lightning.metrics import InceptionFeatures

    torch.set_num_threads(1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Reference(args.cifar_root, args.ref_n, args.out, InceptionFeatures())  # once, before the rows read it
    row_args = ["--cifar-root", args.cifar_root, "--minutes", str(args.minutes), "--curve-minutes",
                str(args.curve_minutes), "--n", str(args.n), "--ref-n", str(args.ref_n), "--out", args.out]
    run_rows(archs, row_args, args.jobs, args.out)


if __name__ == "__main__":
    main()
