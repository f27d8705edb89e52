"""Live FER speed: detect the face, enhance the crop, classify it, on 640x480 video with one face.

The video is made here: a real FER2013 val face (upscaled to ``--face`` px)
moving over a 640x480 background, darkened (x 0.25, gamma 1.8), 25 frames/s.
The classifier is the FER ResNet-18 of ``train_fer_classifier.py`` when it is
in ``--classifiers`` (else the same architecture with random weights: the
speed does not depend on them). Measured in one run, with ``--threads`` CPU
threads:

- the whole pipeline, ``llenhance.video.enhance_video(faces=True,
  classifier=...)``: decode, detect, enhance the crop (``llenet-faces``),
  classify, draw, encode: frames per second over the video;
- the same without the enhancer (identity) and without the classifier, to
  say what each adds (faces searched in every 2nd frame, the default);
- whole frames through the enhancer (no face detection), for comparison;
- the median milliseconds of each stage alone.

Run:
    python benchmarks/video_fer_speed.py [--threads 1] [--frames 150]

Writes ``benchmarks/results/video_fer_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import WORK  # noqa: E402

from _fer_data import FER2013  # noqa: E402
from _fer_models import ARCHS, MEAN, STD, load_classifier  # noqa: E402

from llenhance import Enhancer, FrozenClassifier  # noqa: E402
from llenhance.classifier import ClassifierPreprocess  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402
from llenhance.video import FaceDetector, enhance_video, read_frames, require_cv2  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZE, FPS = (640, 480), 25.0


def make_video(path: Path, frames: int, face_px: int) -> None:
    """A dark 640x480 clip with one real face moving across it."""
    from PIL import Image

    cv2 = require_cv2()
    faces = sorted((FER2013 / "val" / "happy").glob("*.png"))
    if not faces:
        raise SystemExit(f"no FER2013 faces under {FER2013}/val/happy (see ../shared/data/README.md)")
    face = np.asarray(Image.open(faces[0]).convert("RGB").resize((face_px, face_px), Image.BICUBIC), np.float64)
    w, h = SIZE
    background = np.linspace(70, 190, w)[None, :, None].repeat(h, 0).repeat(3, 2)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for i in range(frames):
        frame = background.copy()
        x = 100 + (i * 3) % (w - face_px - 200)
        y = 120 + (i % 40)
        frame[y : y + face_px, x : x + face_px] = face
        writer.write(cv2.cvtColor((0.25 * (frame / 255) ** 1.8 * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR))
    writer.release()


def classifier(folder: Path) -> tuple[FrozenClassifier, str]:
    weights = folder / "fer-resnet18" / "model.safetensors"
    if weights.is_file():
        net, what = load_classifier("resnet18", weights), f"FER ResNet-18 ({weights.parent.name})"
    else:
        net, what = ARCHS["resnet18"](), "FER ResNet-18 architecture, random weights"
    return FrozenClassifier(net, preprocess=ClassifierPreprocess(size=48, mean=MEAN, std=STD), stages=[]), what


def median_ms(fn, repeats: int = 30) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the reader thread decodes and detects on the other core)")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--face", type=int, default=128, help="face size in pixels")
    parser.add_argument("--classifier-threads", type=int, default=2,
                        help="CPU threads for the classifier's calls (enhance_video(classifier_threads=))")
    parser.add_argument("--classifiers", type=Path, default=WORK)
    parser.add_argument("--face-size", type=int, default=64,
                        help="largest side a face crop is enhanced at (enhance_video(face_size=); default "
                             "%(default)s, the live-video setting; 0: each face at its own size)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp())
    video = work / "dark.mp4"
    make_video(video, args.frames, args.face)
    clf, clf_name = classifier(args.classifiers)
    enhancer = Enhancer.from_pretrained("llenet-faces").eval()

    runs = {
        "detect + enhance crop + classify (the pipeline)": {"enhancer": enhancer, "faces": True, "classifier": clf,
                                                            "classifier_threads": args.classifier_threads},
        "detect + classify, no enhancer": {"enhancer": torch.nn.Identity(), "faces": True, "classifier": clf,
                                           "classifier_threads": args.classifier_threads},
        "detect + enhance crop, no classifier": {"enhancer": enhancer, "faces": True, "classifier": None},
        "whole frames through the enhancer": {"enhancer": enhancer, "faces": False, "classifier": None},
    }
    rows = []
    for name, options in runs.items():
        options["face_size"] = args.face_size or None
        enhance_video(video, work / "warm.mp4", max_frames=5, progress=False, **options)
        stats = enhance_video(video, work / "out.mp4", progress=False, **options)
        found = len({r.frame for r in stats.faces})
        rows.append({"run": name, "frames": stats.frames, "frames_per_second": stats.frames_per_second,
                     "frames_with_a_face": found if options["faces"] else None})
        print(rows[-1], flush=True)

    cv2 = require_cv2()
    capture = cv2.VideoCapture(str(video))

    def decode() -> None:
        ok, _ = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    frame = next(read_frames(video))
    detector = FaceDetector()
    box = detector(frame)[0]
    crop = torch.from_numpy(frame[box[1] : box[1] + box[3], box[0] : box[0] + box[2]].copy())
    crop = torch.nn.functional.interpolate(crop.permute(2, 0, 1)[None].float() / 255, size=(64, 64),
                                           mode="bilinear", antialias=True)
    with torch.inference_mode():
        stages = {
            "decode one frame": median_ms(decode),
            "detect (Haar, 320 px wide)": median_ms(lambda: detector(frame)),
            "enhance one 64x64 crop (llenet-faces, the default face size)": median_ms(lambda: enhancer(crop)),
            "classify one face (48x48)": median_ms(lambda: clf(crop)),
        }
    print(stages)
    meta = {
        "command": f"python benchmarks/video_fer_speed.py --threads {args.threads} --frames {args.frames} "
                   f"--face {args.face} --classifier-threads {args.classifier_threads}",
        "torch": torch.__version__,
        "opencv": require_cv2().__version__,
        "machine": f"{platform.machine()} CPU, {args.threads} threads",
        "classifier": clf_name,
        "video": f"{SIZE[0]}x{SIZE[1]}, {FPS:g} frames/s, {args.frames} frames, one {args.face}px face",
    }
    result = {"meta": meta, "rows": rows, "stage_ms": stages}
    args.results.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Live FER speed (CPU)",
        "",
        f"`{meta['command']}` — torch {meta['torch']}, OpenCV {meta['opencv']}, {meta['machine']}. "
        f"Video: {meta['video']} (made by the script from a FER2013 val face). Classifier: {clf_name}. "
        "Frames per second of `llenhance.video.enhance_video` end to end (decode, detect, enhance, classify, "
        "draw, encode).",
        "",
        "| run | frames/s | frames with a face found |",
        "| --- | ---: | ---: |",
    ]
    for r in rows:
        found = "–" if r["frames_with_a_face"] is None else f"{r['frames_with_a_face']} of {r['frames']}"
        lines.append(f"| {r['run']} | {r['frames_per_second']:.1f} | {found} |")
    lines += ["", "| stage alone | median ms |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.2f} |" for k, v in stages.items()]
    write_results(args.results / "video_fer_speed", result, "\n".join(lines))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
