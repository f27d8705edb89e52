"""Build low-light data with LowLightSynth inside a torchvision transforms-v2 pipeline.

Boxes, masks and labels pass through untouched; only the image is darkened.

Run:
    python examples/low_light_pipeline.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from llenhance import LowLightSynth

HERE = Path(__file__).resolve().parent


def main() -> None:
    torch.manual_seed(0)
    pipeline = v2.Compose([
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomHorizontalFlip(),
        LowLightSynth(noise=True, quantize=True),  # paper Eq. 14 plus sensor noise and 8-bit quantisation
    ])
    image = Image.open(HERE / "images" / "astronaut.png").convert("RGB")
    boxes = tv_tensors.BoundingBoxes([[180, 60, 300, 200]], format="XYXY", canvas_size=(image.height, image.width))
    sample = {"image": image, "boxes": boxes, "label": 3}
    out = pipeline(sample)
    print("image:", tuple(out["image"].shape), f"mean {out['image'].mean():.3f}")
    print("boxes (flipped with the image, not darkened):", out["boxes"].tolist(), "label:", out["label"])



if __name__ == "__main__":
    main()
