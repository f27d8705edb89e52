"""``llenhance enhance``: images, folders, videos and webcams, with ``--faces``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llenhance.cli.common import CLIError, device_from, frozen_classifier, remove_stale, set_threads


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file, the same through links and other spellings of its path."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _collect_inputs(inputs: Sequence[Path], output: Path) -> list[tuple[Path, Path]]:
    """(source file, path relative to the output folder) for every input image."""
    from llenhance.data import IMAGE_EXTENSIONS, find_images

    out = output.resolve()
    jobs: dict[Path, Path] = {}
    for item in inputs:
        if item.is_dir():
            root = item.resolve()
            if out == root or root in out.parents:
                raise CLIError(f"--output {output} is inside the input folder {item}; choose a folder outside it")
            files = [(p, p.relative_to(item)) for p in find_images(item, recursive=True)]
        elif item.is_file():
            if item.suffix.lower() not in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
                raise CLIError(f"{item} is not an image or video file "
                               f"({', '.join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))})")
            files = [(item, Path(item.name))]
        else:
            raise CLIError(f"input {item} does not exist")
        for source, rel in files:
            if rel in jobs and jobs[rel] != source:
                raise CLIError(f"inputs {jobs[rel]} and {source} would both be written to {output / rel}")
            jobs[rel] = source
    if not jobs:
        raise CLIError("no image files found in the inputs (folders are searched for images only; pass videos "
                       "by their file names)")
    return [(source, rel) for rel, source in sorted(jobs.items())]


#: Video containers `llenhance enhance` reads and writes (the same as llenhance.video.VIDEO_EXTENSIONS,
#: kept here so that --help and input planning need no OpenCV).
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov"})


def _output_paths(rel: Path, output: Path, side_by_side: bool, faces_csv: bool = False) -> list[Path]:
    if rel.suffix.lower() in VIDEO_EXTENSIONS:
        return [output / rel] + ([output / rel.with_suffix(".faces.csv")] if faces_csv else [])
    return [output / rel] + ([output / "side_by_side" / rel] if side_by_side else [])


def _plan_outputs(
    jobs: list[tuple[Path, Path]], output: Path, *, side_by_side: bool, overwrite: bool, skip_existing: bool,
    faces_csv: bool = False,
) -> list[tuple[Path, Path]]:
    """The jobs to run, after refusing any output that is an input file and handling existing outputs.

    An output path that is one of the input files (the same file by device and
    inode, so links and other spellings count) is always refused. Other
    existing output files are refused unless ``overwrite`` (replace them) or
    ``skip_existing`` (skip the inputs whose outputs all exist; an input missing one of them runs again).
    """
    inputs = {_identity(source): source for source, _ in jobs}
    inputs.pop(None, None)
    resolved_inputs = {source.resolve(): source for source, _ in jobs}
    clashes, existing, todo = [], [], []
    for source, rel in jobs:
        targets = _output_paths(rel, output, side_by_side, faces_csv)
        for target in targets:
            same = inputs.get(_identity(target)) or resolved_inputs.get(target.resolve())
            if same is not None:
                clashes.append(f"{target} (the input {same})")
        present = [t for t in targets if t.exists()]
        existing += present
        # --skip-existing skips an input only when all of its outputs are there: one that lacks its
        # side-by-side picture or its faces CSV runs again (its other outputs are rewritten alike)
        if not (skip_existing and len(present) == len(targets)):
            todo.append((source, rel))
    if clashes:
        raise CLIError(f"--output {output} would write over input files: {', '.join(clashes[:5])}"
                       + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
                       + "; choose an output folder that holds none of the inputs")
    if existing and not (overwrite or skip_existing):
        names = ", ".join(str(p) for p in existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise CLIError(f"--output {output} already holds {len(existing)} of the output files ({names}); "
                       "pass --overwrite to replace them or --skip-existing to keep them and skip their inputs")
    return todo


#: Formats whose PIL writers take EXIF and ICC data.
_METADATA_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"})


def _webp_lossless(source: Path) -> bool:
    """Whether ``source`` is a lossless WebP (a VP8L bitstream): its output is then written lossless too."""
    try:
        with open(source, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] == b"VP8L"


def save_atomic(image: Any, path: Path, *, exif: bytes | None = None, icc: bytes | None = None,
                 lossless: bool = False) -> None:
    from llenhance._atomic import atomic_path

    suffix = path.suffix.lower()
    options: dict[str, Any] = {"quality": 95} if suffix in (".jpg", ".jpeg") else {}
    if suffix == ".webp" and lossless:
        options["lossless"] = True
    if suffix in _METADATA_SUFFIXES:
        if exif:
            options["exif"] = exif
        if icc:
            options["icc_profile"] = icc
    with atomic_path(path) as tmp:
        image.save(tmp, format=image.format or PIL_FORMATS.get(suffix), **options)


PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
               ".webp": "WEBP"}


def _read_oriented(source: Path) -> tuple[Any, bytes | None, bytes | None]:
    """The image upright (its EXIF orientation applied), its EXIF with the orientation reset, its ICC profile."""
    import PIL.Image
    import PIL.ImageOps

    with PIL.Image.open(source) as img:
        frames = getattr(img, "n_frames", 1)
        if frames > 1:
            print(f"llenhance: warning: {source} holds {frames} frames (animation or pages); only the first is "
                  "enhanced and written", file=sys.stderr)
        img.load()
        icc = img.info.get("icc_profile")
        upright = PIL.ImageOps.exif_transpose(img)  # a copy, orientation tag removed
    exif = upright.getexif()
    return upright, (exif.tobytes() if len(exif) else None), icc


def enhance_command(args: argparse.Namespace) -> int:
    import PIL.Image
    from tqdm.auto import tqdm

    from llenhance.inference import load_enhancer

    output = Path(args.output)
    device = device_from(args.device)
    if args.amp and not device.startswith("cuda"):
        raise CLIError(f"--amp runs bfloat16 on CUDA; the device here is {device}")
    remove_stale(output)
    set_threads(args.threads)
    if args.overwrite and args.skip_existing:
        raise CLIError("--overwrite and --skip-existing exclude each other; pass one")
    if not args.inputs and args.webcam is None:
        raise CLIError("give image or video files, folders, or --webcam INDEX")
    if args.classifier is not None and not args.faces:
        raise CLIError("--classifier reads the expressions of faces: add --faces")
    if args.max_frames is not None and args.max_frames < 1:
        raise CLIError(f"--max-frames expected an int >= 1, got {args.max_frames}")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size expected an int >= 1, got {args.batch_size}")
    if not 0.0 <= args.strength <= 1.0:  # also NaN: checked once here, not once per image
        raise CLIError(f"--strength expected a value in [0, 1], got {args.strength}")
    found = _collect_inputs([Path(p) for p in args.inputs], output) if args.inputs else []
    webcam_rel = Path(f"webcam{args.webcam}.mp4") if args.webcam is not None else None
    faces_csv = args.classifier is not None or args.faces
    jobs = _plan_outputs(found + ([(Path(f"<webcam {args.webcam}>"), webcam_rel)] if webcam_rel else []), output,
                         side_by_side=args.side_by_side, overwrite=args.overwrite,
                         skip_existing=args.skip_existing, faces_csv=faces_csv)
    if not jobs:
        print(f"all {len(found)} outputs exist in {output} already (--skip-existing); nothing to do")
        return 0
    videos = [(s, r) for s, r in jobs if r.suffix.lower() in VIDEO_EXTENSIONS]
    images = [(s, r) for s, r in jobs if r.suffix.lower() not in VIDEO_EXTENSIONS]
    image_csv = output / "faces.csv"
    if args.faces and images and image_csv.exists() and not (args.overwrite or args.skip_existing):
        raise CLIError(f"--output {output} already holds {image_csv.name}; pass --overwrite to replace it or "
                       "--skip-existing to add the new images' rows to it")
    if args.faces and images and image_csv.exists() and args.skip_existing:
        import csv
        from dataclasses import fields

        from llenhance.video import FaceRecord

        with image_csv.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if header != ["file"] + [f.name for f in fields(FaceRecord)]:
            raise CLIError(f"--output {output} holds a {image_csv.name} of other columns ({', '.join(header)}); "
                           "move it away or pass --overwrite to replace it")
    model = args.weights
    if model is None and args.faces:
        from llenhance.pretrained import DEFAULT_FACE_WEIGHTS

        model = DEFAULT_FACE_WEIGHTS
    try:
        net = load_enhancer(model)  # fail early, naming the weights; enhance() keeps one copy per device
    except (FileNotFoundError, OSError, ValueError, RuntimeError) as err:
        raise CLIError(f"--weights: {err}") from err
    if args.tile is not None:
        from llenhance.inference import check_tile

        try:
            check_tile(net, args.tile, args.overlap)
        except ValueError as err:
            raise CLIError(f"--tile {args.tile} --overlap {args.overlap}: {err}") from None
    classifier_threads = None
    if args.faces and videos and args.threads is None:
        import os

        # live FER: one torch thread, the other core decodes and finds faces; the classifier, bound by
        # reading its weights, gets every core for its own call (see enhance_video's classifier_threads)
        classifier_threads = min(2, os.cpu_count() or 1)
        set_threads(1)
    face_pass = _face_pass(args, model, device) if (args.faces or videos) else None
    if face_pass is not None:
        face_pass.classifier_threads = classifier_threads
    failures = 0
    image_faces: list[tuple[str, Any]] = []
    recorded = 0  # rows of image_faces already in faces.csv
    bar = tqdm(total=len(images), desc="enhance", unit="image", dynamic_ncols=True, disable=not images)
    for start in range(0, len(images), args.batch_size):
        read = []
        for source, rel in images[start : start + args.batch_size]:
            try:
                read.append((source, rel, *_read_oriented(source)))
            except (OSError, ValueError, PIL.Image.DecompressionBombError) as err:
                failures += 1
                bar.update(1)
                tqdm.write(f"llenhance: skipped {source}: {err}", file=sys.stderr)
        if args.faces:
            results: list[Any] = [_faces_on_image(face_pass, img, str(rel), image_faces)
                                  for _, rel, img, _, _ in read]
        else:
            results = _enhanced([img for _, _, img, _, _ in read], args, model, device)
        for (source, rel, img, exif, icc), result in zip(read, results):
            bar.update(1)
            try:
                if isinstance(result, Exception):
                    raise result
                save_atomic(result, output / rel, exif=exif, icc=icc, lossless=_webp_lossless(source))
                if args.side_by_side:
                    pair = PIL.Image.new("RGB", (img.width * 2, img.height))
                    pair.paste(_preview(img), (0, 0))
                    pair.paste(_preview(result), (img.width, 0))
                    save_atomic(pair, output / "side_by_side" / rel, icc=icc)
            except (OSError, ValueError) as err:
                failures += 1
                tqdm.write(f"llenhance: skipped {source}: {err}", file=sys.stderr)
        if args.faces:
            # the rows of every saved batch reach faces.csv at once (atomically): an interrupted run leaves a
            # CSV that holds the faces of the images it wrote, and a --skip-existing rerun adds the rest
            from llenhance.video import write_face_records

            new = image_faces[recorded:]
            write_face_records(image_csv, [r for _, r in new], files=[name for name, _ in new],
                               keep_existing=args.skip_existing or start > 0)
            recorded = len(image_faces)
    bar.close()
    for source, rel in videos:
        try:
            _enhance_one_video(args, face_pass, source if webcam_rel != rel else args.webcam, output / rel, faces_csv)
        except (OSError, ValueError) as err:
            failures += 1
            print(f"llenhance: skipped {source}: {err}", file=sys.stderr)
    done = len(jobs) - failures
    print(f"enhanced {done} of {len(jobs)} {'files' if videos and images else 'videos' if videos else 'images'} "
          f"into {output}")
    return 1 if failures else 0


def _enhanced(images: list[Any], args: argparse.Namespace, model: str | None, device: str) -> list[Any]:
    """enhance() of the images, ``--batch-size`` at a time; where the batch fails, each image alone (its own error)."""
    from llenhance.inference import enhance

    options = {"tile": args.tile, "overlap": args.overlap, "device": device, "amp": args.amp,
               "strength": args.strength, "batch_size": args.batch_size}
    try:
        return enhance(images, model, **options) if images else []
    except ValueError as err:
        if len(images) == 1:
            return [err]
    results: list[Any] = []
    for image in images:
        try:
            results.append(enhance(image, model, **options))
        except ValueError as err:
            results.append(err)
    return results


def _faces_on_image(face_pass: Any, image: Any, name: str, rows: list[tuple[str, Any]]) -> Any:
    """The image with its faces enhanced and boxed (their records go to ``rows``), or the error that stopped it."""
    import numpy as np
    import PIL.Image

    try:
        annotated, records = face_pass.run(np.asarray(image.convert("RGB")), 0, 0.0)
    except (OSError, ValueError) as err:
        return err
    rows += [(name, r) for r in records]
    return PIL.Image.fromarray(annotated)


class _Faces:
    """The video module's pipeline, built once for all inputs of a command."""

    def __init__(self, args: argparse.Namespace, model: str | None, device: str) -> None:
        from llenhance.data import FER2013_CLASSES
        from llenhance.inference import load_enhancer
        from llenhance.video_faces import FaceDetector, FacePass

        classes = tuple(args.classes) if args.classes else FER2013_CLASSES
        self.classifier = None
        if args.classifier is not None:
            self.classifier = frozen_classifier(args, classes, []).to(device)
        self.classes, self.model, self.device = classes, model, device
        self.classifier_threads: int | None = None  # set for live video (see enhance_command)
        self._pass = None
        if args.faces:
            import torch

            self._pass = FacePass(load_enhancer(model).to(device), FaceDetector(), self.classifier, classes,
                                   margin=0.2, face_size=args.face_size, device=torch.device(device), amp=args.amp)
            self._pass.strength = args.strength

    def run(self, frame: Any, index: int, seconds: float) -> Any:
        return self._pass(frame, index, seconds)  # type: ignore[misc]


def _face_pass(args: argparse.Namespace, model: str | None, device: str) -> _Faces:
    try:
        from llenhance.video import require_cv2

        cv2 = require_cv2()
        # our own messages name the failing input; OpenCV's backend warnings would only repeat them
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        return _Faces(args, model, device)
    except ImportError as err:
        raise CLIError(str(err)) from None


def _enhance_one_video(args: argparse.Namespace, faces: _Faces, source: Any, target: Path, faces_csv: bool) -> None:
    from llenhance.video import enhance_video, write_face_records

    def report(index: int, records: list) -> None:
        if records and faces.classifier is not None and args.max_frames is None and isinstance(source, int):
            print(f"frame {index}: " + ", ".join(f"{r.expression} ({r.confidence:.2f})" for r in records))

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said below, once, in the command's words
        stats = enhance_video(source, target, faces.model, faces=args.faces, classifier=faces.classifier,
                              detect_every=args.detect_every, face_size=args.face_size, strength=args.strength,
                              classifier_threads=faces.classifier_threads,
                              classes=faces.classes, device=faces.device, amp=args.amp,
                              batch_size=args.batch_size, max_frames=args.max_frames, on_frame=report)
    if stats.truncated:
        print(f"llenhance: warning: {source}: only {stats.frames} of the {stats.expected_frames} frames its header "
              "announces could be read (truncated or damaged?); the output holds those", file=sys.stderr)
    if faces_csv:
        write_face_records(target.with_suffix(".faces.csv"), stats.faces)
        counts: dict[str, int] = {}
        for record in stats.faces:
            if record.expression:
                counts[record.expression] = counts.get(record.expression, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"{target.name}: {len(stats.faces)} faces in {stats.frames} frames"
              + (f" (expressions: {summary})" if summary else "")
              + f"; rows in {target.with_suffix('.faces.csv').name}")
    print(f"{target.name}: {stats.frames} frames at {stats.frames_per_second:.1f} frames/s")


def _preview(image: Any) -> Any:
    """8-bit RGB view of an image of any mode (16-bit and float scaled, not clipped)."""
    import numpy as np
    import PIL.Image

    from llenhance.inference import HIGH_DEPTH_MODES

    if image.mode in HIGH_DEPTH_MODES:
        full = HIGH_DEPTH_MODES[image.mode]
        gray = np.clip(np.asarray(image, dtype=np.float64) / full, 0, 1)
        return PIL.Image.fromarray((gray * 255).round().astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
