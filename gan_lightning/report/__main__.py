"""python -m gan_lightning.report <multirun dir> [--metric KEY] [--mode min|max] [--value last|best] [--out DIR]"""
import argparse
import sys

from gan_lightning.errors import ConfigError
from gan_lightning.report.write import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lightning.report",
                                     description="Tables and plots of a sweep's runs (see README: Sweeps).")
    parser.add_argument("sweep_dir", help="a multirun folder, e.g. outputs/multiruns/2026-11-24_12-00-00")
    parser.add_argument("--metric", help="the key to compare (default: optimized_metric, else metrics.best)")
    parser.add_argument("--mode", choices=("min", "max"), help="lower or higher is better (default: from the config)")
    parser.add_argument("--value", choices=("last", "best"), default="last",
                        help="each run's final evaluation (default) or its best one")
    parser.add_argument("--top", type=int, default=5, help="runs in the learning-curve plot")
    parser.add_argument("--out", help="report folder (default: <sweep_dir>/report)")
    args = parser.parse_args(argv)
    try:
        out = write_report(args.sweep_dir, args.out, args.metric, args.mode, args.value, args.top)
    except (FileNotFoundError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
