"""FER on a dark video: find the faces, enhance them, read their expressions (llenhance[video]).

Makes a short dark clip from ``examples/images/astronaut.png`` (a slow pan),
then runs a FER classifier on it with ``llenet-faces`` in front of it. The
classifier here is a stand-in with random weights; put yours in its place.

Run:
    pip install -e ".[video]"
    python examples/fer_video.py
Writes ``dark.mp4``, ``fer.mp4`` (faces boxed and labelled) and ``fer.faces.csv`` in the current folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from llenhance import ClassifierPreprocess, FrozenClassifier
from llenhance.data import FER2013_CLASSES

IMAGE = Path(__file__).resolve().parent / "images" / "astronaut.png"


def make_dark_clip(path: Path, frames: int = 24) -> None:
    import cv2

    image = np.asarray(Image.open(IMAGE).convert("RGB").resize((384, 384)), np.float64) / 255
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (320, 240))
    for i in range(frames):
        view = image[40 + i : 280 + i, 20 + 2 * i : 340 + 2 * i]  # a slow pan
        dark = np.round(255 * 0.2 * view**1.8).astype(np.uint8)  # underexposed
        writer.write(cv2.cvtColor(dark, cv2.COLOR_RGB2BGR))
    writer.release()


def main() -> None:
    try:
        from llenhance.video import enhance_video, write_face_records
    except ImportError:
        print('this example needs OpenCV: pip install "llenhance[video]"')
        return
    make_dark_clip(Path("dark.mp4"))
    torch.manual_seed(0)
    my_fer_model = torchvision.models.resnet18(num_classes=7)  # yours: trained on 48x48 grey FER2013 faces, say

    # two lines: say what the classifier expects, then run it on the video with llenet-faces in front
    classifier = FrozenClassifier(my_fer_model, preprocess=ClassifierPreprocess(size=48), stages=[])
    stats = enhance_video("dark.mp4", "fer.mp4", faces=True, classifier=classifier, classes=FER2013_CLASSES)

    write_face_records("fer.faces.csv", stats.faces)
    print(f"{stats.frames} frames, {len(stats.faces)} faces, {stats.frames_per_second:.1f} frames/s")
    for record in stats.faces[:3]:
        print(f"frame {record.frame} ({record.seconds:.2f} s): face at {record.x},{record.y} "
              f"{record.width}x{record.height} -> {record.expression} ({record.confidence:.2f})")



if __name__ == "__main__":
    main()
