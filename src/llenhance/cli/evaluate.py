"""``llenhance evaluate`` and ``llenhance export``."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from llenhance.cli.common import CLIError, device_from, frozen_classifier, set_threads


def evaluate_command(args: argparse.Namespace) -> int:
    from llenhance import evaluation
    from llenhance.baselines import clahe, global_gamma
    from llenhance.inference import load_enhancer
    from llenhance.pretrained import DEFAULT_FACE_WEIGHTS, DEFAULT_WEIGHTS

    device = device_from(args.device)
    set_threads(args.threads)
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
        from llenhance.data import to_float

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
        classifier = frozen_classifier(args, classes, [])
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


def export_command(args: argparse.Namespace) -> int:
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
