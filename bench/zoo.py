"""The zoo on MNIST-32 (issue 24): every image family under one CPU budget, measured on its G_ema.

    python bench/quality.py --zoo --jobs 1 --mnist-root ../shared/data/mnist.npz            # the default rows
    python bench/quality.py --zoo --archs resnet,sndcgan --minutes 15 --mnist-root ...       # some rows

Each row trains on the bundled 5,000 digits (32x32x1) with its family's paper loss and penalty at a reduced
width, for `--minutes` CPU minutes of one thread, in its own process (`--zoo-row <arch>`), `--jobs` rows at a
time. Every `--curve-minutes` of training CPU the clock stops while G_ema is measured on 2,000 samples (the
fid_mnist curve); at the end G_ema is measured on 5,000 samples against 5,000 training digits (fid_mnist,
classes covered, largest class share) and an 8x8 grid goes to docs/zoo/<arch>.png. The reference is those
training digits against 5,000 real test digits of --mnist-root.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from quality import CPUBudget, MNISTMeasure, cpu_seconds, train

DOCS = Path(__file__).resolve().parents[1] / "docs" / "zoo"
ADAM = ["optimizer.generator.lr={g}", "optimizer.discriminator.lr={d}",
       "optimizer.generator.betas=[{b1},{b2}]", "optimizer.discriminator.betas=[{b1},{b2}]"]


def adam(g: float, d: float, b1: float, b2: float) -> list[str]:
    """Overrides for G's and D's Adam (lr, betas)."""
    return [s.format(g=g, d=d, b1=b1, b2=b2) for s in ADAM]


def widths(g: int, d: int, g_max: int | None = None, d_max: int | None = None, key: str = "channels") -> list[str]:
    """Overrides for the width keys of G and D (`channels`/`max_channels`, or `channel_base` for Karras nets)."""
    out = [f"arch.generator.{key}={g}", f"arch.discriminator.{key}={d}"]
    out += [f"arch.generator.max_channels={g_max}"] if g_max else []
    return out + ([f"arch.discriminator.max_channels={d_max}"] if d_max else [])


# arch -> the family's paper setting at a reduced width; `width` and `setting` are what the table states.
# stylegan2 and r3gan are issue 22's: their recipes come from there (run: False until then).
ROWS: dict[str, dict] = {
    "dcgan": {"overrides": [], "setting": "`python train.py` as is: ns, Adam 6e-4 (0.5, 0.999), BN in D, batch 32",
              "width": "G 32, D 32 (recipe)"},
    "sndcgan": {"overrides": ["arch=sndcgan", "loss=ns", *adam(2e-4, 2e-4, 0.5, 0.999), *widths(16, 16),
                              "batch_size=64", "z_dim=128"],
                "setting": "ns, SN D, Adam 2e-4 (0.5, 0.999), batch 64, z 128 (Landscape)", "width": "G 16, D 16"},
    "resnet": {"overrides": ["arch=resnet", "loss=hinge", *adam(2e-4, 2e-4, 0.0, 0.9), *widths(64, 64, 64, 64),
                             "n_critic=5", "batch_size=64", "z_dim=128"],
               "setting": "hinge, SN D, Adam 2e-4 (0, 0.9), n_critic 5, batch 64 (SNGAN)", "width": "G 64, D 64"},
    "resnet19": {"overrides": ["arch=resnet19", "loss=ns", *adam(2e-4, 2e-4, 0.5, 0.999), *widths(16, 16, 64, 64),
                               "batch_size=64", "z_dim=128"],
                 "setting": "ns, SN D, Adam 2e-4 (0.5, 0.999), batch 64 (Landscape)", "width": "ch 16, max 64"},
    "sagan": {"overrides": ["arch=sagan", "loss=hinge", "optimizer=ttur", *widths(32, 32, 32, 32),
                            "arch.generator.attention_resolution=16",
                            "batch_size=64", "z_dim=128"],
              "setting": "hinge, SN G and D, TTUR G 1e-4 / D 4e-4 (0, 0.9), batch 64",
              "width": "G 32, D 32, attention at 16 in G and D"},
    "selfmod": {"overrides": ["arch=selfmod", "loss=ns", *adam(2e-4, 2e-4, 0.5, 0.999), *widths(32, 32, 32, 32),
                              "batch_size=64", "z_dim=128"],
                "setting": "ns, SN D, Adam 2e-4 (0.5, 0.999), batch 64", "width": "G 32, D 32, MLP 32"},
    "biggan": {"overrides": ["arch=biggan", "loss=hinge", "regularizer=ortho", "dataset.conditional=true",
                             *adam(2e-4, 2e-4, 0.0, 0.999), *widths(32, 64, 32, 64), "arch.generator.shared_dim=32",
                             "n_critic=4", "batch_size=50", "z_dim=128"],
               "setting": "class-conditional, hinge, SN G and D, ortho 1e-4 on G, Adam 2e-4 (0, 0.999), n_critic 4, "
                          "batch 50 (BigGAN-PyTorch CIFAR); EMA half-life 10 kimg, not 0.9999/G step",
               "width": "G 32, D 64, shared 32"},
    "stylegan": {"overrides": ["arch=stylegan", "loss=ns", "regularizer=r1", "regularizer.r1.weight=10",
                               "regularizer.r1.interval=16", *adam(2e-3, 2e-3, 0.0, 0.99), "arch.generator.channels=32",
                               "arch.generator.max_channels=128", "arch.discriminator.channel_base=1024",
                               "arch.discriminator.max_channels=128",
                               "arch.generator.w_dim=128", "z_dim=128", "batch_size=32"],
                 "setting": "ns, R1 10 lazy /16, Adam 2e-3 (0, 0.99), mixing 0.9, batch 32 (stylegan_faces)",
                 "width": "G 32..128, D base 1024 max 128, w 128, mapping 8"},
    "pggan": {"overrides": ["arch=pggan", "loss=wgangp", "arch.schedule.stable_kimg=20", "arch.schedule.transition_kimg=20",
                            "batch_size=32", "z_dim=128"],
              "setting": "WGAN-GP 10 + drift 0.001, n_critic 1, Adam 1e-3 (0, 0.99), grown 4->32 by 120 kimg "
                         "(20 kimg stable + 20 fading per doubling)",
              "width": "base 512, max 64"},
    "began": {"overrides": ["arch=began", "loss=began", *widths(32, 32), "arch.discriminator.h_dim=64", "batch_size=32"],
              "setting": "BEGAN gamma 0.5, lambda_k 0.001, Adam 1e-4 (0.5, 0.999), z = h = 64, batch 32",
              "width": "n 32, h 64"},
    "stylegan2": {"overrides": ["arch=stylegan2"], "run": False, "setting": "recipe from issue 22", "width": "-"},
    "r3gan": {"overrides": ["arch=r3gan"], "run": False, "setting": "recipe from issue 22", "width": "-"},
}
BUDGET = ["metrics=none", "total_kimg=100000", "total_g_steps=null", "callbacks.checkpoint.every_kimg=100000",
          "callbacks.preview.every_kimg=50"]
ORDER = ["resnet", "sndcgan", "biggan", "stylegan", "sagan", "selfmod", "resnet19", "began", "pggan", "dcgan"]


def training_digits(data, n: int = 5000) -> torch.Tensor:
    """n of the datamodule's training digits (uint8), a fixed seeded choice shared by every row."""
    images = data.data[0]
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:n]]


def samples(module, n: int, seed: int) -> torch.Tensor:
    """n G_ema images in [-1, 1]; conditional nets get the labels 0..9 in turn."""
    c_dim = getattr(module.generator, "c_dim", 0)
    c = torch.arange(n) % c_dim if c_dim else None
    return module.generate(n, c=c, seed=seed)


class CurveBudget(CPUBudget):
    """The CPU budget, plus G_ema's fid_mnist on `n` samples every `every` CPU seconds of training (off the clock)."""

    def __init__(self, seconds: float, every: float, measure: MNISTMeasure, n: int = 2000) -> None:
        super().__init__(seconds)
        self.every, self.measure, self.n = every, measure, n
        self.reals, self.curve = None, []

    def on_train_start(self, trainer, module) -> None:
        self.reals = training_digits(trainer.datamodule)
        self.start = cpu_seconds()  # the clock starts with the first batch: building and loading are not training

    def point(self, module) -> None:
        from gan_lightning.data.images import to_uint8

        with self.paused():
            values = self.measure(self.reals, to_uint8(samples(module, self.n, seed=7)))
        self.curve.append({"cpu_min": round(self.used() / 60, 2), "kimg": module.nimg / 1000,
                           "fid_mnist": values["fid_mnist"], "classes": values["classes_covered"]})
        print(f"curve {self.curve[-1]}", flush=True)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.used() >= self.every * (len(self.curve) + 1) and self.used() < self.seconds:
            self.point(module)
        super().on_train_batch_end(trainer, module, outputs, batch, batch_idx)


def zoo_row(arch: str, minutes: float, every_minutes: float, out: str) -> dict:
    """Train one row in this process and measure it; its numbers also go to <out>/<arch>.json."""
    from gan_lightning.data.images import make_grid, save_image, to_uint8

    torch.set_num_threads(1)
    measure, row = MNISTMeasure(), ROWS[arch]
    budget = CurveBudget(minutes * 60, every_minutes * 60, measure)
    cfg_overrides = [*row["overrides"], *BUDGET]
    wall = time.time()
    module, data, _, _ = train(cfg_overrides, f"{out}/{arch}", [budget])
    train_cpu = budget.used()
    budget.point(module)  # the curve's last point, on the same 2,000 samples
    start = cpu_seconds()
    values = measure(budget.reals, to_uint8(samples(module, 5000, seed=1000)))
    save_image(make_grid(samples(module, 64, seed=1), cols=8), DOCS / f"{arch}.png")
    result = {"arch": arch, "setting": row["setting"], "width": row["width"], "cpu_s": train_cpu,
              "measure_cpu_s": budget.excluded + cpu_seconds() - start, "wall_s": time.time() - wall,
              "kimg": module.nimg / 1000, "g_params": sum(p.numel() for p in module.generator.parameters()),
              "d_params": sum(p.numel() for p in module.discriminator.parameters()),
              "fid_mnist": values["fid_mnist"], "classes": values["classes_covered"],
              "max_share": values["max_class_share"], "curve": budget.curve,
              "command": " ".join(["python train.py", *cfg_overrides])}
    Path(out).mkdir(parents=True, exist_ok=True)
    Path(out, f"{arch}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}), flush=True)
    return result


def run_rows(archs: list[str], minutes: float, every_minutes: float, jobs: int, out: str) -> None:
    """Each row in its own `python bench/quality.py --zoo-row` process, one thread, `jobs` at a time."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    script = str(Path(__file__).with_name("quality.py"))
    Path(out).mkdir(parents=True, exist_ok=True)
    pending, running = list(archs), []
    while pending or running:
        while pending and len(running) < jobs:
            arch = pending.pop(0)
            log = open(Path(out, f"{arch}.log"), "w")
            cmd = [sys.executable, script, "--zoo-row", arch, "--minutes", str(minutes),
                   "--curve-minutes", str(every_minutes), "--out", out]
            running.append((arch, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
            print(f"started {arch} ({' '.join(cmd[1:])})", flush=True)
        time.sleep(5)
        for item in [r for r in running if r[1].poll() is not None]:
            running.remove(item)
            item[2].close()
            print(f"finished {item[0]}: exit {item[1].returncode}", flush=True)


def reference(mnist_root: str | None, out: str) -> float:
    """fid_mnist of the 5,000 training digits against 5,000 real test digits (cached in <out>/reference.json)."""
    path = Path(out, "reference.json")
    if path.exists():
        return json.loads(path.read_text())["fid_mnist"]
    from hydra.utils import instantiate

    from gan_lightning.metrics.mnist import read_split
    from gan_lightning.run.config import compose

    data = instantiate(compose(["metrics=none"], out).dataset)
    data.setup("fit")
    test_images, _, source = read_split(mnist_root, "test")
    values = MNISTMeasure()(training_digits(data), test_images[:5000])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**values, "test_source": source}, indent=1))
    return values["fid_mnist"]


def curve_text(points: list[dict]) -> str:
    """`CPU min: fid_mnist` pairs of a curve."""
    return ", ".join(f"{p['cpu_min']:.0f}: {p['fid_mnist']:.2f}" for p in points)


def table(archs: list[str], ref: float, out: str) -> str:
    """The markdown table of the rows measured so far (a row without <out>/<arch>.json: not run)."""
    lines = [f"Reference: 5,000 training digits vs 5,000 real test digits, fid_mnist **{ref:.2f}**; target per row "
             f"fid_mnist <= {3 * ref:.2f} (3x) and >= 9 of 10 classes.", "",
             "| arch | setting | width | params G / D | CPU min | kimg | CPU s/kimg | fid_mnist | classes | "
             "max share | target | fid_mnist curve (CPU min: value, 2,000 samples) |", "|" + "---|" * 12]
    for arch in archs:
        path, log = Path(out, f"{arch}.json"), Path(out, f"{arch}.log")
        if not path.exists():  # a row stopped before its end shows the curve points its log has
            points = [ast.literal_eval(line[6:]) for line in (log.read_text().splitlines() if log.exists() else [])
                      if line.startswith("curve {")]
            status = "not finished" if log.exists() else "not run"
            lines.append(f"| {arch} | {ROWS[arch]['setting']} | {ROWS[arch]['width']} | | | | | {status} | | | | "
                         f"{curve_text(points)} |".replace("|  |", "| |"))
            continue
        r = json.loads(path.read_text())
        met = r["fid_mnist"] <= 3 * ref and r["classes"] >= 9
        curve = curve_text(r["curve"])
        lines.append(f"| {arch} | {r['setting']} | {r['width']} | {r['g_params'] / 1e6:.2f}M / "
                     f"{r['d_params'] / 1e6:.2f}M | {r['cpu_s'] / 60:.1f} | {r['kimg']:.0f} | "
                     f"{r['cpu_s'] / r['kimg']:.2f} | {r['fid_mnist']:.2f} | {r['classes']:.0f} | "
                     f"{r['max_share']:.3f} | {'met' if met else 'not met'} | {curve} |")
    return "\n".join(lines)


def zoo(archs: list[str], minutes: float, every_minutes: float, jobs: int, out: str, mnist_root: str | None) -> None:
    """Reference, rows, table (printed and written to <out>/zoo.md)."""
    ref = reference(mnist_root, out)
    print(f"reference fid_mnist {ref:.3f}", flush=True)
    todo = [a for a in archs if ROWS[a].get("run", True)]
    run_rows(todo, minutes, every_minutes, jobs, out)
    text = table(archs, ref, out)
    Path(out, "zoo.md").write_text(text + "\n")
    print(text, flush=True)
