"""Framework tax per arch: images/s of gan_lightning as a user runs it vs a bare PyTorch loop, and peak memory.

    python bench/throughput.py [--archs dcgan,mlp,...] [--repeats 5] [--batches 30] [--seconds 2] [--threads 1]
                               [--device cpu]

For each arch a child process (so that peak memory is per arch) builds the run `python train.py arch=<arch>`
would make (narrow widths on CPU, `--wide` for the config's own), then alternates, `--repeats` times each
(ABAB): `trainer.fit` with the module, every default callback (EMA, previews, losses to the CSV logger,
checkpoints, the progress bar), and a bare loop with copies of the same nets, the same loss, regularizer,
optimizers, batch size, dataloader and EMA update. A first run of ours, not counted, warms up and sets the
length of every run: `--batches`, or more where that would be under `--seconds` of timed steps (fast archs
such as mlp; previews then fall in the runs at their configured interval, as in training). Each run is timed
from the end of its `--warmup`-th batch to the end of its last; the table shows the medians over repeats in
images/s, the ratio ours / bare (1.00: no tax) with the range of the per-repeat ratios, the same ratio in
images per second of the process's CPU time (less sensitive to other jobs on a shared machine), and peak memory (CUDA:
max_memory_allocated of each side; CPU: the child's max RSS after ours' first run, before the bare loop had
trained, and at the end; the RSS includes Python, torch and the dataset, about 400 MiB).
"""
import argparse
import copy
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # this checkout's package, not another editable install

ARCHS = ["dcgan", "sndcgan", "mlp", "resnet", "resnet19", "sagan", "selfmod", "biggan", "stylegan", "stylegan2",
         "r3gan", "pggan"]

# Narrow widths for CPU runs (appended after arch=<name>); pggan trains at a fixed stage (its final one).
NARROW = {
    "dcgan": ["arch.generator.channels=32", "arch.discriminator.channels=32"],
    "sndcgan": ["arch.generator.channels=16", "arch.discriminator.channels=16"],
    "mlp": ["arch.generator.hidden_sizes=[256,256]", "arch.discriminator.hidden_sizes=[256,256]"],
    **{arch: [f"arch.{role}.{key}=32" for role in ("generator", "discriminator") for key in ("channels", "max_channels")]
       for arch in ("resnet", "resnet19", "sagan", "selfmod", "biggan")},
    "stylegan": ["arch.generator.w_dim=64", "arch.generator.channels=16", "arch.generator.max_channels=32",
                 "arch.discriminator.channel_base=512", "arch.discriminator.max_channels=32"],
    "stylegan2": ["arch.generator.w_dim=64", "arch.generator.mapping_layers=2", "arch.generator.channel_base=512",
                  "arch.generator.max_channels=32", "arch.discriminator.channel_base=512",
                  "arch.discriminator.max_channels=32"],
    "r3gan": [f"arch.{role}.{key}={value}" for role in ("generator", "discriminator")
              for key, value in (("width", 32), ("cardinality", 4), ("blocks", 1))],
    "pggan": ["arch.generator.max_channels=32", "arch.discriminator.max_channels=32"],
}
# each arch with the loss and penalties its paper trains it with (the others: the default run's)
PAIRED = {"r3gan": ["loss=rpgan", "regularizer=[r1,r2]"], "stylegan2": ["regularizer=r1", "regularizer.r1.interval=16"]}
FIXED_STAGE = {"pggan": ["arch.schedule.start_resolution=${dataset.resolution}"]}


class Clock:
    """Timestamps at the end of each batch (a callback for ours, called by hand in the bare loop)."""

    def __init__(self, device) -> None:
        self.device = device
        self.times: list[float] = []
        self.cpu_times: list[float] = []

    def __call__(self, *args) -> None:
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)  # only the benchmark syncs, to time what the GPU did
        self.times.append(time.perf_counter())
        self.cpu_times.append(time.process_time())

    def images_per_second(self, batch: int, warmup: int, cpu: bool = False) -> float:
        """Images per second of wall time (or of the process's CPU time) after `warmup` batches."""
        times = self.cpu_times if cpu else self.times
        return batch * (len(times) - warmup) / (times[-1] - times[warmup - 1])


def ours(datamodule, module, cfg, batches: int, device) -> Clock:
    """`trainer.fit` for `batches` more batches, as train.py runs it (a fresh Trainer; module and data go on)."""
    import lightning as L

    from gan_lightning.run.build import build_trainer

    clock = Clock(device)
    trainer = build_trainer(cfg)
    trainer.callbacks.append(L.pytorch.callbacks.LambdaCallback(on_train_batch_end=clock))
    module.total_kimg = (module.nimg + batches * cfg.batch_size) / 1000
    trainer.fit(module, datamodule=datamodule)
    return clock


class Bare:
    """A hand-written loop: the module's D step (with the penalty when due), G step and EMA, nothing else."""

    def __init__(self, module, datamodule, cfg, device) -> None:
        import torch
        from hydra.utils import instantiate

        from gan_lightning.training.callbacks.speed import fused

        self.G, self.D = copy.deepcopy(module.generator).to(device), copy.deepcopy(module.discriminator).to(device)
        self.G_ema = copy.deepcopy(module.G_ema).to(device)
        self.loss, self.reg = module.loss, module.regularizer
        self.augment = getattr(module, "augment", None)
        opt_g, opt_d = instantiate(cfg.optimizer.generator), instantiate(cfg.optimizer.discriminator)
        if device.type == "cuda":  # what callbacks.speed does on a GPU, and the trainer's autocast
            for net in (self.G, self.D, self.G_ema):
                net.to(memory_format=torch.channels_last)
            opt_g, opt_d = fused(opt_g), fused(opt_d)
        precision = str(cfg.trainer.precision)
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision.startswith("bf16"))
        self.opt_g = self.reg.adjust_generator_optimizer(opt_g(self.G.parameters()))
        self.opt_d = self.reg.adjust_optimizer(opt_d(self.D.parameters()))
        self.datamodule, self.device, self.n_critic = datamodule, device, cfg.n_critic
        self.halflife, self.rampup = cfg.callbacks.ema.halflife_kimg, cfg.callbacks.ema.rampup
        self.batches, self.nimg, self.g_steps = 0, 0, 0
        self.z_dim = module.z_dim
        self.data = iter(datamodule.train_dataloader())

    def d_step(self, real, c) -> None:
        import torch

        D = self.D if self.augment is None else (lambda x, c: self.D(self.augment(x), c))
        with torch.no_grad():
            fake = self.G(torch.randn(len(real), self.z_dim, device=self.device), c)
        real_logits = D(real, c)
        loss = self.loss.d(real_logits, D(fake, c))
        eager, lazy = self.reg.due(self.batches)
        for reg in eager:
            loss = loss + reg(D, real, fake, c, real_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.reg.after_d_step(self.D)
        if lazy:
            self.opt_d.zero_grad(set_to_none=True)
            sum(reg(D, real, fake, c) for reg in lazy).backward()
            self.opt_d.step()
            self.reg.after_d_step(self.D)

    def g_step(self, real, c) -> None:
        import torch

        D = self.D if self.augment is None else (lambda x, c: self.D(self.augment(x), c))
        self.D.requires_grad_(False)
        fake_logits = D(self.G(torch.randn(len(real), self.z_dim, device=self.device), c), c)
        real_logits = None
        if self.loss.uses_real_in_g:
            with torch.no_grad():
                real_logits = D(real, c)
        loss = self.loss.g(fake_logits, real_logits)
        loss = loss + sum(self.reg.generator_penalties(self.G, real, c, self.g_steps).values())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if lazy := self.reg.generator_penalties(self.G, real, c, self.g_steps, lazy=True):
            self.opt_g.zero_grad(set_to_none=True)
            sum(lazy.values()).backward()
            self.opt_g.step()
        self.g_steps += 1
        self.D.requires_grad_(True)

    def run(self, batches: int) -> Clock:
        from gan_lightning.training.callbacks.ema import ema_beta, ema_update

        clock = Clock(self.device)
        for _ in range(batches):
            x, c = next(self.data)
            real, c = self.datamodule.on_after_batch_transfer((x.to(self.device), c.to(self.device)), 0)
            with self.autocast:
                self.d_step(real, c)
                if (self.batches + 1) % self.n_critic == 0:
                    self.g_step(real, c)
            self.batches += 1
            self.nimg += len(real)
            ema_update(self.G_ema, self.G, ema_beta(len(real), self.halflife, self.nimg, self.rampup))
            clock()
        return clock


def peak_memory(device) -> float:
    """MiB: the process's max RSS on CPU, max_memory_allocated on CUDA (reset after reading)."""
    import torch

    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args) -> None:
    """Measure one arch and print one JSON line."""
    import logging

    import torch

    from gan_lightning.run.build import build
    from gan_lightning.run.config import compose

    logging.getLogger("lightning").setLevel(logging.ERROR)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"arch={args.arch}", *([] if args.wide else NARROW[args.arch]), *FIXED_STAGE.get(args.arch, []),
                     *PAIRED.get(args.arch, []), f"batch_size={args.batch}", "trainer=gpu" if device.type == "cuda" else "trainer.accelerator=cpu",
                     "trainer.enable_model_summary=false", "metrics=none", *args.override]
        cfg = compose(overrides, tmp)
        datamodule, module, _ = build(cfg)
        bare = Bare(module, datamodule, cfg, device)
        # a first run of ours warms up and sets the run length: at least --seconds timed, so that short
        # steps (mlp) are not timed over a fraction of a second that one disturbance decides
        clock = ours(datamodule, module, cfg, args.batches, device)
        seconds_per_batch = args.batch / clock.images_per_second(args.batch, args.warmup)
        batches = max(args.batches, args.warmup + math.ceil(args.seconds / seconds_per_batch))
        rates: dict[str, list[float]] = {"ours": [], "bare": [], "ours_cpu": [], "bare_cpu": []}
        memory = {"ours": 0.0, "bare": 0.0}
        for repeat in range(args.repeats):  # ABAB: load drifts on a shared machine hit both alike
            for side in ("ours", "bare"):
                clock = ours(datamodule, module, cfg, batches, device) if side == "ours" else bare.run(batches)
                rates[side].append(clock.images_per_second(args.batch, args.warmup))
                rates[f"{side}_cpu"].append(clock.images_per_second(args.batch, args.warmup, cpu=True))
                if repeat == 0 or side == "bare" or device.type == "cuda":  # CPU: RSS only grows: ours before bare
                    memory[side] = max(memory[side], peak_memory(device))
        params = sum(p.numel() for net in (module.generator, module.discriminator) for p in net.parameters())
    print(json.dumps({"arch": args.arch, "rates": rates, "memory": memory, "params": params, "batches": batches,
                      "resolution": cfg.dataset.resolution, "threads": torch.get_num_threads()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--repeats", type=int, default=5, help="runs of each side, interleaved ABAB")
    parser.add_argument("--batches", type=int, default=30, help="batches per run (at least)")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per run (at least; more batches)")
    parser.add_argument("--warmup", type=int, default=5, help="batches of each run left out of its time")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each child (CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--wide", action="store_true", help="the configs' own widths instead of narrow ones")
    parser.add_argument("--child", dest="arch", help=argparse.SUPPRESS)
    parser.add_argument("override", nargs="*", help="more Hydra overrides, e.g. regularizer=r1")
    args = parser.parse_args()
    if args.arch:
        return child(args)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    flags = [f"--repeats={args.repeats}", f"--batches={args.batches}", f"--seconds={args.seconds}",
             f"--warmup={args.warmup}", f"--batch={args.batch}", f"--device={args.device}", *(["--wide"] if args.wide else []), *args.override]
    memory_kind = "max_memory_allocated" if args.device.startswith("cuda") else "max RSS of the process"
    print(f"{args.device}, {args.threads} thread(s), batch {args.batch}, {args.repeats} runs per side of at least "
          f"{args.batches} batches and {args.seconds:g} s timed (first {args.warmup} batches untimed), ABAB; "
          f"peak memory: {memory_kind}", flush=True)
    print(f"{'arch':<9} {'res':>4} {'params':>7} {'batches':>7} {'ours img/s':>11} {'bare img/s':>11} {'ratio':>6} "
          f"{'range':>10} {'cpu ratio':>9} {'range':>10} {'ours MiB':>9} {'bare MiB':>9}", flush=True)
    for arch in args.archs.split(","):
        done = subprocess.run([sys.executable, __file__, f"--child={arch}", *flags], env=env,
                              capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"{arch:<9} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
            continue
        r = json.loads(lines[-1])
        rates = r["rates"]
        ours_, bare = (statistics.median(rates[k]) for k in ("ours", "bare"))
        cells = []
        for suffix in ("", "_cpu"):
            ratios = [a / b for a, b in zip(rates[f"ours{suffix}"], rates[f"bare{suffix}"])]
            median = statistics.median(rates[f"ours{suffix}"]) / statistics.median(rates[f"bare{suffix}"])
            cells.append(f"{median:>{6 if not suffix else 9}.3f} {min(ratios):>4.2f}-{max(ratios):<5.2f}")
        print(f"{arch:<9} {r['resolution']:>4} {r['params'] / 1e6:>6.2f}M {r['batches']:>7} {ours_:>11.1f} {bare:>11.1f} "
              f"{cells[0]} {cells[1]} {r['memory']['ours']:>9.0f} {r['memory']['bare']:>9.0f}", flush=True)

if __name__ == "__main__":
    main()
