"""Trained enhancers in front of the FER2013 classifiers, without training anything.

``fer_transfer.py`` trains its enhancers and scores them; this scores weights
that exist (built-in names or saved folders, ``--weights``) in front of the
same classifiers (``train_fer_classifier.py`` outputs; ``--classifier-dir
ARCH FOLDER`` reads another recipe), on the same dark val faces (both
darkening protocols, fixed seed) and on the well-lit val faces, beside no
enhancement and a global gamma curve. A check of shipped weights (the
``llenet-faces`` card) and a cheap way to compare candidate weights.

Run:
    python benchmarks/fer_readers.py --weights llenet-faces

Writes ``fer_readers.{json,md}`` under ``--results``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import WORK  # noqa: E402

from _command import command_line, tilde  # noqa: E402
from _fer_data import FER2013, add_data_arguments  # noqa: E402
from _fer_eval import (  # noqa: E402
    PROTOCOLS,
    add_classifier_dir_argument,
    apply,
    classifier_dirs,
    dark_test_set,
    frozen_classifier_from,
    load_faces,
    predict,
)
from _baselines import identity  # noqa: E402
from llenhance.baselines import global_gamma  # noqa: E402
from _fer_eval import ARCHS, CONDITIONS, GAMMA_TARGET, score  # noqa: E402

from llenhance import Enhancer  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fer_readers"
GAMMA = f"global gamma (mean grey -> {GAMMA_TARGET})"
KEYS = ("acc_paper", "recovered_paper", "acc_realistic", "recovered_realistic", "acc_normal", "normal_change")


def _row(name: str, row: dict) -> str:
    cells = []
    for key in KEYS:
        value = row.get(key)
        if value is None:
            cells.append("–")
        elif key.startswith("recovered"):
            cells.append(f"{value:.3f}")
        else:
            cells.append(f"{100 * value:+.2f}" if key == "normal_change" else f"{100 * value:.2f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def markdown(results: dict) -> str:
    header = [("| enhancer | acc paper | recovered paper | acc realistic | recovered realistic | acc well-lit | "
               "well-lit change |"), "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines = [
        f"# Enhancers in front of the {results['data']} classifiers (val)",
        "",
        (f"Command: `{results['command']}`. {results['val_images']} val faces, darkened once per protocol with a "
         "fixed seed (`paper`: LowLightSynth(), Eq. 14; `realistic`: + Poisson-Gaussian noise, 8 bits); `well-lit`: "
         "the val faces as they are. Accuracy in %; recovered = (acc - acc_low) / (acc_normal - acc_low); well-lit "
         "change in points."),
        "",
        "| classifier | val accuracy | folder |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {ARCHS[a]} | {100 * c['val_accuracy']:.2f} | `{c['folder']}` |"
              for a, c in results["classifiers"].items()]
    lines += ["", "## Mean over the classifiers", "", *header]
    lines += [_row(name, row) for name, row in results["mean"].items()]
    for arch, rows in results["per_classifier"].items():
        lines += ["", f"## {ARCHS[arch]}", "", *header]
        lines += [_row(name, row) for name, row in rows.items()]
    return tilde("\n".join(lines))


def evaluate(methods: dict[str, Callable[[torch.Tensor], torch.Tensor]], classifiers: dict[str, torch.nn.Module],
             faces: Dataset) -> tuple[dict[str, dict[str, dict]], dict[str, dict], torch.Tensor]:
    """Score ``methods`` (the first must be ``"none"``) in front of ``classifiers`` on ``faces`` (val).

    Returns the rows per classifier, their mean over the classifiers and the labels.
    """
    images: dict[str, torch.Tensor] = {}
    for protocol in PROTOCOLS:
        images[protocol], images["normal"], labels = dark_test_set(faces, protocol)
    per_classifier: dict[str, dict[str, dict]] = {a: {} for a in classifiers}
    reference: dict[str, dict[str, torch.Tensor]] = {}
    for name, method in methods.items():
        enhanced = {c: apply(method, images[c]) for c in CONDITIONS}
        for arch, classifier in classifiers.items():
            preds = {c: predict(classifier, enhanced[c]) for c in CONDITIONS}
            reference.setdefault(arch, preds)  # the first method is "none"
            per_classifier[arch][name] = score(preds, labels, reference[arch])
    mean = {name: {k: (statistics.fmean(per_classifier[a][name][k] for a in classifiers)
                       if all(per_classifier[a][name][k] is not None for a in classifiers) else None)
                   for k in KEYS}
            for name in methods}
    return per_classifier, mean, labels


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--weights", nargs="+", required=True,
                        help="enhancers to score: built-in names or saved folders (save_pretrained)")
    parser.add_argument("--classifiers", type=Path, default=WORK,
                        help="folder holding fer-<arch>/ (train_fer_classifier.py outputs)")
    add_classifier_dir_argument(parser)
    parser.add_argument("--archs", nargs="+", choices=sorted(ARCHS), default=list(ARCHS))
    parser.add_argument("--results", type=Path, default=RESULTS, help="stem of the .json and .md written")
    parser.add_argument("--limit", type=int, default=None, help="use about N val faces (quick runs)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folders = classifier_dirs(parser, args, args.archs)
    methods = {"none": identity, GAMMA: lambda x: global_gamma(x, target=GAMMA_TARGET)}
    for name in args.weights:
        try:
            methods[tilde(name)] = Enhancer.from_pretrained(name).eval()
        except (FileNotFoundError, OSError, ValueError) as err:
            parser.error(f"`--weights` {name}: {err}")
    classifiers = {a: frozen_classifier_from(a, folders[a]) for a in args.archs}
    faces = load_faces(args, "val")
    return publish("fer_readers.py", argv, args, folders, evaluate(methods, classifiers, faces))


def publish(script: str, argv: list[str] | None, args: argparse.Namespace, folders: dict[str, Path],
            scored: tuple[dict, dict, torch.Tensor], **extra: object) -> dict:
    """The record of ``evaluate``'s ``scored`` rows (with ``extra`` entries), written to ``--results`` and printed."""
    per_classifier, mean, labels = scored
    results = {
        "command": command_line(script, argv),
        "data": "FER2013" if args.data == FER2013 else f"{args.dataset} data set",
        "val_images": len(labels),
        "classifiers": {a: {"folder": tilde(str(folders[a])),
                            "val_accuracy": per_classifier[a]["none"]["acc_normal"]} for a in folders},
        **extra,
        "mean": mean,
        "per_classifier": per_classifier,
    }
    text = markdown(results)
    write_results(args.results, results, text)
    print(text)
    return results


if __name__ == "__main__":
    main()
