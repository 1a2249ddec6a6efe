"""The zoo mosaic: one row per family, the top two rows of each family's 8x8 sample grid, labelled.

    python bench/mosaic.py                      # docs/zoo/*.png (bench/quality.py --zoo) -> docs/zoo_mosaic.png
    python bench/mosaic.py --extra stylegan2=docs/stylegan2_mnist.png r3gan=docs/r3gan_mnist.png

A grid is make_grid's: 32x32 images with 2 px of black around each, 8 to a row. Families are drawn in the
order of ORDER (those without a grid are left out and named on the console).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("dcgan", "sndcgan", "resnet", "resnet19", "sagan", "selfmod", "biggan", "stylegan", "stylegan2", "r3gan",
         "pggan", "began")
CELL, PAD, LABEL = 32, 2, 90  # image side, padding, label column width (px)


def strip(grid: Image.Image, rows: int) -> Image.Image:
    """The top `rows` rows of samples of an 8-column grid (with their padding)."""
    return grid.crop((0, 0, grid.width, rows * (CELL + PAD) + PAD))


def mosaic(grids: dict[str, Path], rows: int = 2) -> Image.Image:
    strips = {name: strip(Image.open(path).convert("L"), rows) for name, path in grids.items()}
    width = LABEL + max(s.width for s in strips.values())
    height = sum(s.height for s in strips.values())
    out = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(out)
    top = 0
    for name, image in strips.items():
        out.paste(image, (LABEL, top))
        draw.text((6, top + image.height // 2 - 6), name, fill=0)
        top += image.height
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", type=Path, default=ROOT / "docs" / "zoo", help="folder of <arch>.png grids")
    parser.add_argument("--extra", nargs="*", default=[], help="arch=path grids for families not in --zoo")
    parser.add_argument("--rows", type=int, default=2, help="sample rows of each grid")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "zoo_mosaic.png")
    args = parser.parse_args()
    extra = {name: Path(path) for name, path in (item.split("=", 1) for item in args.extra)}
    grids = {}
    for name in ORDER:
        path = extra.get(name, args.zoo / f"{name}.png")
        if path.is_file():
            grids[name] = path
        else:
            print(f"{name}: no grid ({path}); left out")
    mosaic(grids, args.rows).save(args.out)
    print(f"wrote {args.out}: {', '.join(grids)}")


if __name__ == "__main__":
    main()
