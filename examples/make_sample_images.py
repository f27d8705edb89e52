"""Make the dark sample images in examples/images from scikit-image's bundled pictures.

Sources (scikit-image, ``skimage.data``): ``astronaut`` (NASA, public
domain), ``coffee`` and ``chelsea`` (CC0). Each is darkened with
``LowLightSynth`` (paper ranges, with sensor noise and 8-bit quantisation)
under a fixed seed.

Run:
    python examples/make_sample_images.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from skimage import data
from torchvision.transforms.v2 import functional as TF

from llenhance import LowLightSynth

OUT = Path(__file__).resolve().parent / "images"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    synth = LowLightSynth(noise=True, quantize=True)
    for seed, (name, suffix) in enumerate((("astronaut", ".png"), ("coffee", ".jpg"), ("chelsea", ".jpg"))):
        image = TF.to_dtype(TF.to_image(getattr(data, name)()), torch.float32, scale=True)
        torch.manual_seed(seed)
        dark = synth(image)
        Image.fromarray((dark.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(OUT / f"{name}{suffix}")
        print(f"wrote {OUT / (name + suffix)} (mean {float(dark.mean()):.3f})")


if __name__ == "__main__":
    main()
