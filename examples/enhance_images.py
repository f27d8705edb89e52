"""Enhance the dark sample images with the built-in weights, from Python.

Run:
    python examples/enhance_images.py [--output enhanced_examples]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from llenhance import enhance, list_pretrained

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, default=Path("enhanced_examples"))
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    print("built-in weights:", ", ".join(list_pretrained()))
    for path in sorted((HERE / "images").iterdir()):
        with Image.open(path) as dark:
            bright = enhance(dark, tile=512)  # PIL in, PIL out; tiles keep memory bounded
            pair = Image.new("RGB", (dark.width * 2, dark.height))
            pair.paste(dark.convert("RGB"), (0, 0))
            pair.paste(bright, (dark.width, 0))
        pair.save(args.output / f"{path.stem}_before_after.png")
        print(f"{path.name}: wrote {args.output / (path.stem + '_before_after.png')}")


if __name__ == "__main__":
    main()
