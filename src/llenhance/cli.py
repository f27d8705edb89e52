"""The ``llenhance`` command line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads only when a command runs, so --help and --version answer at once
    import torch

__all__ = ["main"]


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    import torch

    if not path.is_file():
        raise CLIError(f"--classifier-weights: {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError) as err:
            raise CLIError(f"--classifier-weights: cannot read {path} as safetensors ({err})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CLIError(f"--classifier-weights: cannot load {path} as a state dict ({err})") from err
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CLIError(f"--classifier-weights: {path} holds a {type(state).__name__}, expected a state dict")
    return state


def _import_file(path_text: str) -> Any:
    """A Python file imported as a module, as ``python FILE`` would run it: its folder first on the import path
    (so it can import the files beside it)."""
    import importlib.util

    path = Path(path_text).expanduser()
    if not path.is_file():
        raise CLIError(f"--classifier: there is no file {path} (expected 'path/to/file.py:factory')")
    name = f"_llenhance_classifier_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"--classifier: cannot import {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise CLIError(f"--classifier: importing {path} failed: {type(err).__name__}: {err}") from err
    finally:
        sys.path.remove(str(path.resolve().parent))
    return module


def _build_classifier(spec: str, weights: Path | None, num_classes: int) -> torch.nn.Module:
    import torch

    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise CLIError(f"--classifier expected 'module:factory' or 'path/to/file.py:factory', got {spec!r}")
    try:
        module = _import_file(module_name) if module_name.endswith(".py") else importlib.import_module(module_name)
        factory = getattr(module, attr)
    except ModuleNotFoundError as err:
        hint = ""
        local = Path.cwd() / f"{err.name}.py", Path.cwd() / str(err.name)
        if err.name == module_name.split(".")[0] and (local[0].is_file() or local[1].is_dir()):
            hint = ("; it is in the current folder, which is not on Python's import path: pass the file, "
                    f"--classifier {module_name.replace('.', '/')}.py:{attr}, run with PYTHONPATH=. or install it")
        raise CLIError(f"--classifier: cannot import {spec!r} ({err}){hint}") from None
    except (ImportError, AttributeError) as err:
        raise CLIError(f"--classifier: cannot import {spec!r} ({err})") from err
    if not callable(factory):
        raise CLIError(f"--classifier: {spec} is a {type(factory).__name__}, expected a callable returning an "
                       "nn.Module (a class or a factory function)")
    try:
        try:
            model = factory(num_classes=num_classes)
        except TypeError:
            print(f"llenhance: note: --classifier {spec} takes no num_classes=; built with its own defaults",
                  file=sys.stderr)
            model = factory()
    except Exception as err:  # the user's factory failed: say so, naming the option (C04)
        raise CLIError(f"--classifier: {spec} failed: {type(err).__name__}: {err}") from err
    if not isinstance(model, torch.nn.Module):
        raise CLIError(f"--classifier: {spec} returned {type(model).__name__}, expected an nn.Module")
    if weights is not None:
        try:
            model.load_state_dict(_load_state_dict(weights))
        except RuntimeError as err:
            raise CLIError(f"--classifier-weights: {weights} does not fit {spec}: {err}") from err
    return model


def _frozen_classifier(args: argparse.Namespace, classes: Sequence[str], stages: Any = None) -> Any:
    """``--classifier`` built, loaded and frozen behind its preprocessing; refused when its number of outputs
    is not the number of class names (labels would be drawn from the wrong list, in silence)."""
    import torch

    from llenhance.classifier import FrozenClassifier

    net = _build_classifier(args.classifier, args.classifier_weights, len(classes))
    try:
        frozen = FrozenClassifier(net, preprocess=_preprocess(args), stages=stages)
    except ValueError as err:
        raise CLIError(f"--classifier: {err}") from None
    with torch.no_grad():
        try:
            outputs = frozen(torch.rand(1, 3, 64, 64)).shape[-1]
        except RuntimeError as err:
            raise CLIError(f"--classifier {args.classifier} failed on a 64x64 RGB image through its preprocessing "
                           f"(--classifier-size/--classifier-grayscale/--classifier-mean): {err}") from None
    if outputs != len(classes):
        raise CLIError(f"--classifier {args.classifier} gives {outputs} outputs, but there are {len(classes)} class "
                       f"names ({', '.join(classes)}); pass --classes with {outputs} names in its output order")
    return frozen


def _enhancer(args: argparse.Namespace) -> torch.nn.Module:
    from llenhance import Enhancer, llenet_b, llenet_s

    if args.arch_old is not None:
        if args.arch is not None and args.arch != args.arch_old:
            raise CLIError(f"--arch {args.arch} and --model {args.arch_old} disagree; pass --arch only")
        print("llenhance: note: `train --model` is now `train --arch` (--weights names weights elsewhere)",
              file=sys.stderr)
    arch = args.arch or args.arch_old or "llenet_s"
    if args.init is not None:
        if args.stem_stride is not None:
            raise CLIError("--stem-stride and --init: the weights of --init fix the stem stride; pass one of them")
        if args.exposure_input:
            raise CLIError("--exposure-input and --init: the weights of --init fix the network's inputs; "
                           "pass one of them")
        if args.curve_target is not None:
            raise CLIError("--curve-target and --init: the weights of --init were trained on their own curve; "
                           "pass one of them")
        override = {} if args.output_target is None else {"output_target": args.output_target}
        return Enhancer.from_pretrained(args.init, **override)
    extra = {} if args.stem_stride is None else {"stem_stride": args.stem_stride}
    if args.exposure_input:
        extra["exposure_input"] = True
    if args.output_target is not None:
        extra["output_target"] = args.output_target
    return {"llenet_s": llenet_s, "llenet_b": llenet_b}[arch](curve_target=args.curve_target, **extra)


def _device(spec: str) -> str:
    """``auto`` (CUDA when available, else CPU) or a device that exists on this machine."""
    import torch

    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError) as err:
        raise CLIError(f"--device expected auto, cpu, cuda or cuda:N, got {spec!r} ({err})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"--device {spec}: CUDA is not available on this machine; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CLIError(f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise CLIError(f"--device expected auto, cpu, cuda or cuda:N, got {spec!r}")
    return str(device)


def _threads(count: int | None) -> None:
    """``--threads``: CPU threads of torch's intra-op pool (default: torch's own choice)."""
    if count is None:
        return
    if count < 1:
        raise CLIError(f"--threads expected an int >= 1, got {count}")
    import torch

    torch.set_num_threads(count)


def _prepare_output(output: Path, resume: bool) -> None:
    if (output / "model.safetensors").exists() and not resume:
        raise CLIError(f"--output {output} already holds a model; choose another folder or pass --resume")
    output.mkdir(parents=True, exist_ok=True)


def _stage(text: str) -> tuple[int, float]:
    """``--stages`` item ``ITERATIONS:LR``."""
    iterations, sep, lr = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(iterations), float(lr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ITERATIONS:LR (e.g. 3000:5e-4), got {text!r}") from None


def _train_faces(args: argparse.Namespace) -> int:
    import dataclasses

    from llenhance.training.faces import FaceRecipe, FaceStage, train_faces

    recipe = FaceRecipe.load(args.recipe) if args.recipe is not None else FaceRecipe()
    changes = {name: getattr(args, name) for name in ("seed", "size", "normal_fraction", "batch_size", "width",
                                                      "stem_stride", "curve_target", "luma_only", "init")
               if getattr(args, name) is not None}
    if args.darkenings:
        changes["darkenings"] = tuple(args.darkenings)
    if args.stages:
        changes["stages"] = tuple(FaceStage(i, lr) for i, lr in args.stages)
    recipe = dataclasses.replace(recipe, **changes)
    device = _device(args.device)
    _threads(args.threads)
    model = train_faces(args.data, args.output, recipe, device=device,
                        command=["llenhance", *sys.argv[1:]] if args.record_command else None)
    print(f"face enhancer: {Path(args.output) / 'model'} ({sum(s.iterations for s in recipe.stages)} iterations, "
          f"recipe {Path(args.output) / 'recipe.json'}); load it with Enhancer.from_pretrained or --model")
    del model
    return 0


def _train(args: argparse.Namespace) -> int:
    from llenhance.training.lock import RunLockedError, run_lock

    _remove_stale(Path(args.output))
    try:
        with run_lock(args.output, name="--output"):
            return _train_faces(args) if args.mode == "faces" else _train_pairs(args)
    except RunLockedError as err:
        raise CLIError(str(err)) from None
    except FloatingPointError as err:  # the trainer stopped at a non-finite loss; its message says what to do
        raise CLIError(f"{err} (on the command line: --lr, --clip-grad-norm)") from None


def _train_pairs(args: argparse.Namespace) -> int:
    import torch

    from llenhance import FERGuidedTrainer, LowLightSynth
    from llenhance.data import FER2013_CLASSES, FERFolder, PairedImageFolder, SyntheticLowLight
    from llenhance.losses import ReconstructionLoss

    output = Path(args.output)
    device = _device(args.device)
    _threads(args.threads)
    if args.amp and not device.startswith("cuda"):
        raise CLIError(f"--amp runs bfloat16 autocast on CUDA; the device here is {device}")
    if args.crop < 8:
        raise CLIError(f"--crop expected at least 8 pixels (the structure loss's window needs 6), got {args.crop}")
    _prepare_output(output, args.resume)
    torch.manual_seed(args.seed)
    classifier = None
    if args.mode == "reconstruction":
        train = PairedImageFolder(args.data, crop=args.crop, flip=True, seed=args.seed, preload=args.preload,
                                  normal_fraction=args.normal_fraction, inputs=args.inputs)
        val = PairedImageFolder(args.val, preload=args.preload) if args.val else None
    else:
        classes = tuple(args.classes) if args.classes else FER2013_CLASSES
        base = FERFolder(args.data, classes=classes)
        train = SyntheticLowLight(base, LowLightSynth(), crop=args.crop, flip=True, seed=args.seed)
        val = (
            SyntheticLowLight(FERFolder(args.val, classes=classes), LowLightSynth(), seed=args.seed + 1)
            if args.val
            else None
        )
        classifier = _frozen_classifier(args, classes, args.stages)

    enhancer = _enhancer(args)
    try:
        reconstruction = ReconstructionLoss(perceptual=args.perceptual_weight, color=args.color_weight)
    except RuntimeError as err:
        raise CLIError(f"{err} On the command line: --perceptual-weight 0.") from err
    # what the data pipeline does is part of the run: a resumed run must keep it
    data_record: dict[str, Any] = {"mode": args.mode, "crop": args.crop, "classes": getattr(args, "classes", None),
                                   "classifier": getattr(args, "classifier", None),
                                   "folder": str(Path(args.data).resolve())}
    if getattr(args, "normal_fraction", 0.0):  # only when used: runs from before the option resume as they were
        data_record["normal_fraction"] = args.normal_fraction
    if tuple(getattr(args, "inputs", ("real",))) != ("real",):  # likewise
        data_record["inputs"] = list(args.inputs)
    trainer = FERGuidedTrainer(
        enhancer,
        classifier,
        reconstruction=reconstruction,
        lr=args.lr,
        batch_size=args.batch_size,
        schedule=args.schedule,
        clip_grad_norm=args.clip_grad_norm,
        device=device,
        seed=args.seed,
        num_workers=args.workers,
        checkpoint_dir=output / "checkpoints",
        checkpoint_every=args.checkpoint_every,
        val_every=args.val_every,
        amp=args.amp,
        compile=args.compile,
        target_exposure=args.target_exposure,
        log_every=args.log_every,
        data=data_record,
    )
    start = time.time()
    metrics = trainer.fit(train, val, iterations=args.iterations, resume=args.resume)
    if trainer.rank != 0:
        return 0
    if trainer.trained_steps == 0 and (output / "training.json").is_file():
        print(f"{output} finished its {args.iterations} iterations already; its model and training.json are unchanged")
        return 0
    trainer.enhancer.save_pretrained(output)
    record: dict[str, Any] = {
        "command": "llenhance " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "mode": args.mode,
        "data": str(args.data),
        "val": str(args.val) if args.val else None,
        "iterations": args.iterations,
        "crop": args.crop,
        "train_items": len(train),
        "trainer": trainer.config,
        "classifier_spec": args.classifier if args.mode == "joint" else None,
        "final_metrics": metrics,
        "wall_seconds": round(time.time() - start, 1),
    }
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(metrics))
    print(f"saved the enhancer to {output}")
    return 0


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


def _save_atomic(image: Any, path: Path, *, exif: bytes | None = None, icc: bytes | None = None,
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


def _enhance(args: argparse.Namespace) -> int:
    import PIL.Image
    from tqdm.auto import tqdm

    from llenhance.inference import load_enhancer

    output = Path(args.output)
    device = _device(args.device)
    if args.amp and not device.startswith("cuda"):
        raise CLIError(f"--amp runs bfloat16 on CUDA; the device here is {device}")
    _remove_stale(output)
    _threads(args.threads)
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
        _threads(1)
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
                _save_atomic(result, output / rel, exif=exif, icc=icc, lossless=_webp_lossless(source))
                if args.side_by_side:
                    pair = PIL.Image.new("RGB", (img.width * 2, img.height))
                    pair.paste(_preview(img), (0, 0))
                    pair.paste(_preview(result), (img.width, 0))
                    _save_atomic(pair, output / "side_by_side" / rel, icc=icc)
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
        from llenhance.video import FaceDetector, FacePass

        classes = tuple(args.classes) if args.classes else FER2013_CLASSES
        self.classifier = None
        if args.classifier is not None:
            self.classifier = _frozen_classifier(args, classes, []).to(device)
        self.classes, self.model, self.device = classes, model, device
        self.classifier_threads: int | None = None  # set for live video (see _enhance)
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


def _evaluate(args: argparse.Namespace) -> int:
    from llenhance import evaluation
    from llenhance.baselines import clahe, global_gamma
    from llenhance.inference import load_enhancer
    from llenhance.pretrained import DEFAULT_FACE_WEIGHTS, DEFAULT_WEIGHTS

    device = _device(args.device)
    _threads(args.threads)
    if args.output is not None and not args.overwrite:
        present = [p for p in (args.output.with_name(args.output.name + ".json"),
                               args.output.with_name(args.output.name + ".md")) if p.exists()]
        if present:
            raise CLIError(f"--output: {', '.join(map(str, present))} exist(s); pass --overwrite to replace")
    methods: dict[str, Any] = {"input (no enhancement)": None}
    if args.baselines:
        methods["global gamma (mean grey -> 0.5)"] = global_gamma
        methods["CLAHE (kornia, clip 2, 8x8)"] = clahe
    for name in args.weights or [DEFAULT_FACE_WEIGHTS if args.kind == "fer" else DEFAULT_WEIGHTS]:
        try:
            methods[name] = load_enhancer(name).to(device).eval()
        except (FileNotFoundError, OSError, ValueError, RuntimeError) as err:
            raise CLIError(f"--weights: {err}") from err
    command = "llenhance " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["evaluate"] \
        else f"llenhance evaluate {args.kind}"
    if args.kind == "pairs":
        from llenhance.data import PairedImageFolder

        data = PairedImageFolder(args.data)
        scores = {name: evaluation.evaluate_pairs(m, data, device=device, progress=name)
                  for name, m in methods.items()}
        table = evaluation.markdown_table(
            ["method", "PSNR (dB) ↑", "SSIM ↑", "CIEDE2000 ↓", "grey shift"],
            [(n, s["psnr"], s["ssim"], s["ciede2000"], s["grey_shift"]) for n, s in scores.items()])
        title = f"Paired quality on {args.data} ({len(data)} pairs; per-image means, RGB in [0, 1])"
        note = ("Grey shift: the output's mean grey level (BT.601 luma, [0, 1]) minus the reference's; "
                "negative is darker than the reference, 0 is its exposure.\n\n")
        results: dict[str, Any] = {"kind": "pairs", "data": str(args.data),
                                   "methods": {n: {k: v for k, v in s.items() if k != "per_image"}
                                               for n, s in scores.items()}}
    elif args.kind == "niqe":
        from llenhance.data import find_images, read_image
        from llenhance.data._io import to_float

        try:
            if args.limit is not None and args.limit < 1:
                raise CLIError(f"--limit expected a number of images >= 1, got {args.limit}")
            files = find_images(args.data)[: args.limit]
        except (FileNotFoundError, NotADirectoryError) as err:
            raise CLIError(f"--data {args.data}: expected a folder of images ({err})") from err
        if not files:
            raise CLIError(f"--data {args.data}: no images found")
        images = [to_float(read_image(f)) for f in files]
        images = [x.expand(3, -1, -1) if x.shape[0] == 1 else x[:3] for x in images]
        scores = {name: evaluation.evaluate_niqe(m, images, device=device, progress=name)
                  for name, m in methods.items()}
        note = ""
        table = evaluation.markdown_table(["method", "NIQE ↓ (lower is better)"],
                                          [(n, s["niqe"]) for n, s in scores.items()])
        title = f"NIQE on {args.data} ({len(files)} images)"
        results = {"kind": "niqe", "data": str(args.data),
                   "methods": {n: {"niqe": s["niqe"], "images": s["images"]} for n, s in scores.items()}}
    else:
        from llenhance.data import FER2013_CLASSES, FERFolder

        classes = tuple(args.classes) if args.classes else FER2013_CLASSES
        faces = FERFolder(args.data, classes=classes)
        classifier = _frozen_classifier(args, classes, [])
        scored = evaluation.evaluate_fer(classifier, faces, methods, darkening=args.darkening, size=args.size,
                                         device=device)
        table = evaluation.markdown_table(
            ["method", "accuracy, dark (%) ↑", "recovered ↑", "accuracy, well lit (%) ↑",
             "well-lit change (points) ↑"],
            [(n, 100 * r["accuracy"], r["recovered_fraction"], 100 * r["well_lit_accuracy"],
              100 * r["well_lit_change"]) for n, r in scored["methods"].items()])
        title = (f"FER accuracy on {args.data} ({scored['faces']} faces, {args.darkening} darkening, seed "
                 f"{scored['seed']}); classifier {args.classifier}: {100 * scored['normal_accuracy']:.2f} % in "
                 f"normal light, {100 * scored['dark_accuracy']:.2f} % in the dark")
        results = {"kind": "fer", "data": str(args.data), "classifier": args.classifier, **scored}
        note = ("Recovered: the share of the accuracy lost to the dark that the method brings back (1: all of "
                "it). Well-lit change: the method's accuracy on the well-lit faces minus the classifier's alone.\n\n")
    results["command"] = command
    markdown = f"# {title}\n\n`{command}`\n\n{note}{table}"
    print(markdown)
    if args.output is not None:
        for path in evaluation.write_results(args.output, results, markdown):
            print(f"wrote {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from llenhance.export import export_onnx, export_torchscript
    from llenhance.inference import load_enhancer

    try:
        model = load_enhancer(args.weights)
    except (FileNotFoundError, OSError, ValueError, RuntimeError) as err:
        raise CLIError(f"--weights: {err}") from err
    if args.format == "onnx":
        try:
            path = export_onnx(model, args.output, opset=args.opset)
        except ImportError as err:
            raise CLIError(f"ONNX export needs the onnx package: pip install 'llenhance[export]' ({err})") from err
    else:
        path = export_torchscript(model, args.output)
    print(f"wrote {path}")
    return 0


def _add_common_train_args(p: argparse.ArgumentParser, *, batch: int, iterations: int, crop: int) -> None:
    p.add_argument("--val", type=Path, help="validation folder of the same layout")
    p.add_argument("--output", type=Path, required=True, help="folder for the model, training.json and checkpoints")
    p.add_argument("--curve-target", type=float, default=None,
                   help="put a brighten-only exposure curve (mean grey -> this level) under the network")
    p.add_argument("--exposure-input", action="store_true",
                   help="give the network the input's mean grey level (log), so it can tell a dark image "
                        "lifted by the curve from a well-lit one")
    p.add_argument("--output-target", type=float, default=None,
                   help="bring the output's mean grey level to about this level (a per-image gamma after the "
                        "network); with --init it replaces the weights' own setting")
    p.add_argument("--target-exposure", action="store_true",
                   help="the losses see the output brought to the reference's mean grey level, so training "
                        "spends nothing on global exposure (for use with --output-target)")
    p.add_argument("--arch", choices=("llenet_s", "llenet_b"), default=None,
                   help="enhancer architecture (default llenet_s; --init names starting weights)")
    p.add_argument("--stem-stride", type=int, choices=(1, 2), default=None,
                   help="1: the network works at full resolution (better denoising, about 4x the compute); "
                        "2: it folds 2x2 pixel blocks first (default: llenet_s 2, llenet_b 1)")
    # the old spelling, kept working: in every other subcommand --model names weights
    p.add_argument("--model", dest="arch_old", choices=("llenet_s", "llenet_b"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--init", help="start from these enhancer weights (folder or name) instead of a new model")
    p.add_argument("--iterations", type=int, default=iterations, help="optimiser steps (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=batch, help="global batch size (default %(default)s)")
    p.add_argument("--crop", type=int, default=crop, help="random square crop size (default %(default)s)")
    p.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (default %(default)s)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--clip-grad-norm", type=float, default=None)
    p.add_argument("--perceptual-weight", type=float, default=1.0,
                   help="wp of the VGG-16 perceptual term; 0 where VGG weights are unavailable")
    p.add_argument("--color-weight", type=float, default=0.5,
                   help="wc of the colour term (default %(default)s, the paper's); 0 for grayscale data such as "
                        "FER2013, where hue is undefined")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the enhancer and the loss")
    p.add_argument("--log-every", type=int, default=50, help="iterations between logged losses (default %(default)s)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--val-every", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="resume from OUTPUT/checkpoints/checkpoint.pt")


def _add_classifier_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The classifier options, one meaning in every subcommand."""
    p.add_argument("--classifier", required=required, help="'module:factory' or 'path/to/file.py:factory' returning the classifier nn.Module")
    p.add_argument("--classifier-weights", type=Path,
                   help="classifier weights: .safetensors, or a state dict (loaded with weights_only=True)")
    p.add_argument("--classifier-size", type=int, help="resize to this square size before the classifier")
    p.add_argument("--classifier-grayscale", action="store_true", help="the classifier takes 1-channel images")
    p.add_argument("--classifier-mean", type=float, nargs="+", help="normalisation mean (default ImageNet)")
    p.add_argument("--classifier-std", type=float, nargs="+", help="normalisation std (default ImageNet)")


def _preprocess(args: argparse.Namespace) -> Any:
    from llenhance.classifier import ClassifierPreprocess

    mean = tuple(args.classifier_mean) if args.classifier_mean else None
    std = tuple(args.classifier_std) if args.classifier_std else None
    return ClassifierPreprocess(
        size=args.classifier_size,
        grayscale=args.classifier_grayscale,
        **({} if mean is None and std is None else {"mean": mean, "std": std}),
    )


def build_parser() -> argparse.ArgumentParser:
    from llenhance import __version__

    parser = argparse.ArgumentParser(prog="llenhance", description="Low-light enhancement for FER (LL-FER).")
    parser.add_argument("--version", action="version", version=f"llenhance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train an enhancer",
        description=(
            "Train LLENet. Two modes: 'reconstruction' trains on real low/normal pairs "
            "(folder with low/ and high/) with the reconstruction loss (paper Eq. 11); "
            "'joint' trains on a FER class-folder data set darkened with LowLightSynth, in front "
            "of a frozen classifier, with the joint loss (paper Eq. 13). Both run under "
            "torchrun --nproc_per_node=N. 'faces' trains a face enhancer like the built-in llenet-faces "
            "from a folder of normal-light faces (its recipe: darkening mix, stages, seeds)."
        ),
    )
    modes = train.add_subparsers(dest="mode", required=True)
    rec = modes.add_parser("reconstruction", help="paired low/high folders, reconstruction loss",
                           description="Paper defaults for LOL: 48x48 crops, batch 80, 5000 iterations.")
    rec.add_argument("--data", type=Path, required=True, help="folder with low/ and high/")
    rec.add_argument("--preload", action="store_true", help="decode all images once and keep them in memory")
    rec.add_argument("--normal-fraction", type=float, default=0.0,
                     help="share of the pairs given as (normal, normal): well-lit input whose target is itself")
    rec.add_argument("--inputs", nargs="+", default=["real"], metavar="KIND",
                     choices=("real", "real-degraded", "paper", "realistic", "realistic-jpeg"),
                     help="what the network sees, mixed in equal shares: real (the pair's low frame), "
                          "real-degraded (that frame with sensor noise, 8 bits and JPEG 60-95), or the normal "
                          "frame darkened: paper, realistic (noise, 8 bits), realistic-jpeg (and JPEG 60-95); "
                          "default real")
    _add_common_train_args(rec, batch=80, iterations=5000, crop=48)

    joint = modes.add_parser("joint", help="FER folders + frozen classifier, joint loss",
                             description="Paper defaults: batch 32, 2000 iterations.")
    joint.add_argument("--data", type=Path, required=True, help="class-folder FER data set (normal light)")
    joint.add_argument("--classes", nargs="+", help="class folder names in label order (default: FER2013 order)")
    _add_classifier_args(joint, required=True)
    joint.add_argument("--stages", nargs="*", help="classifier stage module names (default: found automatically)")
    _add_common_train_args(joint, batch=32, iterations=2000, crop=48)
    joint.set_defaults(preload=False)

    faces = modes.add_parser(
        "faces", help="normal-light faces, the llenet-faces recipe",
        description=("Train a face enhancer from normal-light faces (any folder of images, searched "
                     "recursively), darkened on the fly, reconstruction loss only, in stages: by default the "
                     "recipe of the built-in llenet-faces. The run folder gets recipe.json; the same command "
                     "resumes an interrupted run; --recipe FILE reruns a recipe (options given here change it)."))
    faces.add_argument("--data", type=Path, required=True, help="folder of normal-light face images")
    faces.add_argument("--output", type=Path, required=True, help="run folder (new, empty, or of this recipe)")
    faces.add_argument("--recipe", type=Path, default=None,
                       help="recipe.json of a run, or a face model's training.json, to rerun")
    faces.add_argument("--stages", type=_stage, nargs="+", default=None, metavar="ITERATIONS:LR",
                       help="training stages, each from the weights of the one before (default 3000:5e-4 "
                            "3000:2.5e-4)")
    faces.add_argument("--darkenings", nargs="+", choices=("paper", "realistic", "realistic-jpeg"), default=None,
                       help="darkenings mixed in equal shares (default: paper realistic)")
    faces.add_argument("--normal-fraction", type=float, default=None, help="share of well-lit pairs (default 0.25)")
    faces.add_argument("--luma-only", action=argparse.BooleanOptionalAction, default=None,
                       help="train the network on the faces' luma, colour carried (Enhancer(luma_only=True))")
    faces.add_argument("--init", default=None,
                       help="start from these weights (a built-in name such as llenet-faces, or a folder)")
    faces.add_argument("--seed", type=int, default=None)
    faces.add_argument("--size", type=int, default=None, help="faces resized to SIZE x SIZE (default 48)")
    faces.add_argument("--batch-size", type=int, default=None, help="faces per step (default 32)")
    faces.add_argument("--width", type=int, default=None, help="LLENet width (default 16)")
    faces.add_argument("--stem-stride", type=int, choices=(1, 2), default=None,
                       help="1: full resolution (default); 2: 2x2 pixel folding, a quarter of the compute")
    faces.add_argument("--curve-target", type=float, default=None, help="exposure curve target (default 0.45)")
    faces.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    faces.add_argument("--threads", type=int, default=None, help="CPU threads")
    faces.add_argument("--no-record-command", dest="record_command", action="store_false",
                       help="leave the command line out of training.json")

    enh = commands.add_parser(
        "enhance",
        help="enhance images, folders, videos and webcams (--faces: only the faces, and their expressions)",
        description=(
            "Enhance low-light images (png, jpg, bmp, tiff, webp; folders recursively), videos and webcams into "
            "--output, keeping relative names and formats (videos: same frame rate and size, no audio track). "
            "Never writes into an input folder or over an input "
            "file; refuses to replace existing output files unless --overwrite (or --skip-existing) is "
            "given; unreadable files are skipped with a message and a non-zero exit code."
        ),
    )
    enh.add_argument("inputs", nargs="*", help="image files, folders (images) and video files (mp4, avi, mkv, mov)")
    enh.add_argument("--webcam", type=int, default=None, metavar="INDEX",
                     help="read this webcam (0 = the first) into OUTPUT/webcamINDEX.mp4 until Ctrl-C or --max-frames")
    enh.add_argument("--max-frames", type=int, default=None, help="stop each video or webcam after this many frames")
    enh.add_argument("--faces", action="store_true",
                     help="find faces (OpenCV's bundled detector), enhance only them, box them and write their "
                          "boxes to NAME.faces.csv (videos) or faces.csv (images); with --classifier also label "
                          "their expressions")
    enh.add_argument("--detect-every", type=int, default=2,
                     help="search for faces in every N-th video frame, keep the boxes between (default %(default)s)")
    enh.add_argument("--face-size", type=int, default=None,
                     help="largest side a face crop is enhanced at (default: its own size; smaller: faster, "
                          "blurrier)")
    _add_classifier_args(enh, required=False)
    enh.add_argument("--classes", nargs="+", help="names of the classifier's outputs in order (default: FER2013's 7)")
    enh.add_argument("--output", type=Path, required=True, help="output folder (outside the inputs)")
    enh.add_argument("--weights", default=None,
                     help="built-in weights name, folder, or Hub repo id (default: the built-in default)")
    enh.add_argument("--model", dest="weights_old", default=None, help=argparse.SUPPRESS)  # before 0.4
    enh.add_argument("--tile", type=int, default=None,
                     help="process in tiles of this size (bounded memory); without it, images over 8 megapixels "
                          "are processed in 1024-px tiles anyway")
    enh.add_argument("--overlap", type=int, default=128, help="tile overlap in pixels (default %(default)s)")
    enh.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
    enh.add_argument("--strength", type=float, default=1.0,
                     help="how much of the enhancement to apply, 0 (input) to 1 (full; default)")
    enh.add_argument("--amp", action="store_true",
                     help="bfloat16 autocast on CUDA, as train --amp (faster; output stays 8/16-bit as usual)")
    enh.add_argument("--half", dest="amp_old", action="store_true", default=None, help=argparse.SUPPRESS)  # before 0.4
    enh.add_argument("--batch-size", type=int, default=1,
                     help="images (of one size, in order) or video frames per forward pass (default %(default)s; "
                          "more pays on a GPU)")
    enh.add_argument("--threads", type=int, default=None,
                     help="CPU threads (default: torch's choice; 1 for videos with --faces, where the other core "
                          "decodes and finds faces)")
    enh.add_argument("--side-by-side", action="store_true",
                     help="also write input|output comparisons to OUTPUT/side_by_side/")
    enh.add_argument("--overwrite", action="store_true", help="replace output files that exist already")
    enh.add_argument("--skip-existing", action="store_true",
                     help="skip the inputs whose outputs all exist already (one missing its side-by-side "
                          "picture or faces CSV runs again)")

    ev = commands.add_parser(
        "evaluate",
        help="score enhancers: paired PSNR/SSIM/CIEDE2000, NIQE, FER accuracy in the dark",
        description=("Score one or more enhancers (--weights, repeatable; the input itself is always the first row) "
                     "and, with --baselines, the classical baselines. Prints a Markdown table; --output STEM also "
                     "writes STEM.json and STEM.md."),
    )
    kinds = ev.add_subparsers(dest="kind", required=True)
    pairs = kinds.add_parser("pairs", help="low/high pairs (folder with low/ and high/): PSNR, SSIM, CIEDE2000")
    pairs.add_argument("--data", type=Path, required=True, help="folder with low/ and high/ (same file names)")
    nq = kinds.add_parser("niqe", help="NIQE (no reference) over a folder of low-light images")
    nq.add_argument("--data", type=Path, required=True, help="folder of low-light images")
    nq.add_argument("--limit", type=int, default=None, help="only the first N images (sorted by name)")
    fer = kinds.add_parser("fer", help="FER accuracy on darkened faces, enhanced, and on well-lit faces")
    fer.add_argument("--data", type=Path, required=True, help="class-folder FER data set (normal light)")
    fer.add_argument("--classes", nargs="+", help="class folder names in label order (default: FER2013 order)")
    _add_classifier_args(fer, required=True)
    fer.add_argument("--darkening", choices=("paper", "realistic"), default="paper",
                     help="paper: Eq. 14; realistic: plus sensor noise and 8 bits (default %(default)s)")
    fer.add_argument("--size", type=int, default=None, help="resize the faces to SIZE x SIZE first")
    for sub in (pairs, nq, fer):
        sub.add_argument("--weights", action="append", default=None,
                         help="enhancer weights: built-in name, folder or Hub repo id (repeatable; default: "
                              "llenet-faces for fer, llenet-photo otherwise)")
        sub.add_argument("--model", dest="weights_old", action="append", default=None, help=argparse.SUPPRESS)
        sub.add_argument("--baselines", action="store_true", help="also score global gamma and CLAHE")
        sub.add_argument("--output", type=Path, default=None, help="write OUTPUT.json and OUTPUT.md")
        sub.add_argument("--overwrite", action="store_true", help="replace OUTPUT.json/.md if they exist")
        sub.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
        sub.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")

    exp = commands.add_parser("export", help="export an enhancer to ONNX or TorchScript",
                              description="ONNX graphs have dynamic batch, height and width.")
    exp.add_argument("--format", choices=("onnx", "torchscript"), required=True)
    exp.add_argument("--weights", default=None, help="weights name, folder or Hub repo id (default: built-in default)")
    exp.add_argument("--model", dest="weights_old", default=None, help=argparse.SUPPRESS)  # before 0.4
    exp.add_argument("--output", type=Path, required=True, help="file to write (.onnx or .pt)")
    exp.add_argument("--opset", type=int, default=17, help="ONNX opset (default %(default)s)")
    return parser


def _remove_stale(output: Path) -> None:
    """Half-written files that a killed run (SIGKILL, power loss) left in ``output``: removed, and said so."""
    from llenhance._atomic import remove_stale_temporaries

    for path in remove_stale_temporaries(output):
        print(f"llenhance: removed {path}, a half-written file of a run that was killed", file=sys.stderr)


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``) ends the command like Ctrl-C: through the cleanup of half-written files."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _take_old_flags(args)
    with _terminate_as_exit():
        return _run(parser, args)


#: Flags of earlier versions: (their dest, the dest of the flag that replaced them, old flag, new flag).
OLD_FLAGS = (("weights_old", "weights", "--model", "--weights"), ("amp_old", "amp", "--half", "--amp"))


def _take_old_flags(args: argparse.Namespace) -> None:
    """Flags renamed in 0.4 still work: their value goes to the new flag, with a note on stderr."""
    for old, new, old_flag, new_flag in OLD_FLAGS:
        value = getattr(args, old, None)
        if value is not None:
            print(f"llenhance: {old_flag} is deprecated since 0.4 and will be removed; use {new_flag}",
                  file=sys.stderr)
            setattr(args, new, value if getattr(args, new) in (None, False) else getattr(args, new))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "enhance":
            return _enhance(args)
        if args.command == "export":
            return _export(args)
        if args.command == "evaluate":
            return _evaluate(args)
    except CLIError as err:
        print(f"llenhance: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError, OSError, ImportError) as err:
        print(f"llenhance: error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
