"""Shared FER evaluation helpers of the benchmark scripts: classifiers, faces, dark test sets, predictions.

Not part of the llenhance API; the darkening protocols and the test seed are
the library's (`llenhance.evaluation`), so the library and the scripts
darken the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from _fer_data import fer_split
from _fer_models import FAMILY, MEAN, STD, load_classifier
from llenhance import FrozenClassifier, LowLightSynth
from llenhance.classifier import ClassifierPreprocess
from llenhance.data import SyntheticLowLight
from llenhance import evaluation
from llenhance.evaluation import DARKENING as PROTOCOLS
from llenhance.evaluation import TEST_SEED
from llenhance.metrics import accuracy, recovered_fraction

__all__ = ["ARCHS", "CONDITIONS", "GAMMA_TARGET", "PROTOCOLS", "TEST_SEED", "add_classifier_dir_argument", "apply", "claim_run",
           "classifier_dirs", "classifier_folder", "classifier_weights_digest", "dark_test_set", "frozen_classifier",
           "frozen_classifier_from", "load_faces", "predict", "score", "weights_digest"]


def classifier_folder(arch: str, root: Path, dataset: str = "folder") -> Path:
    """Where ``train_fer_classifier.py`` runs are expected: ``root/fer-<arch>`` (FER2013) or ``root/<dataset>-<arch>``."""
    return root / (f"fer-{arch}" if dataset == "folder" else f"{dataset}-{arch}")


def add_classifier_dir_argument(parser: argparse.ArgumentParser) -> None:
    """``--classifier-dir ARCH FOLDER`` (repeatable): read ARCH's classifier from FOLDER; see ``classifier_dirs``."""
    parser.add_argument("--classifier-dir", nargs=2, action="append", default=[], metavar=("ARCH", "FOLDER"),
                        help="read ARCH's classifier from FOLDER instead of --classifiers/fer-ARCH (repeatable), "
                             "e.g. another training recipe")


def classifier_dirs(parser: argparse.ArgumentParser, args: argparse.Namespace, archs: Iterable[str],
                    dataset: str = "folder") -> dict[str, Path]:
    """The folder of each of ``archs``: ``classifier_folder`` under ``--classifiers``, or its ``--classifier-dir``.

    An architecture outside ``archs`` in ``--classifier-dir`` is a usage error (``parser.error``).
    """
    archs = list(archs)
    unknown = sorted({a for a, _ in args.classifier_dir} - set(archs))
    if unknown:
        parser.error(f"`--classifier-dir` expected an architecture among {sorted(archs)}, got {unknown}")
    folders = {a: classifier_folder(a, args.classifiers, dataset) for a in archs}
    folders.update({a: Path(folder).expanduser() for a, folder in args.classifier_dir})
    return folders


def frozen_classifier(arch: str, root: Path, dataset: str = "folder") -> FrozenClassifier:
    """The normal-light classifier ``arch`` from ``classifier_folder(...)/model.safetensors``, frozen."""
    return frozen_classifier_from(arch, classifier_folder(arch, root, dataset), dataset, argument="--classifiers")


def frozen_classifier_from(arch: str, folder: Path, dataset: str = "folder", *,
                           argument: str = "--classifiers` or `--classifier-dir") -> FrozenClassifier:
    """The classifier ``arch`` from ``folder/model.safetensors`` (a ``train_fer_classifier.py`` output), frozen.

    If ``folder/training.json`` records the architecture, the network built is that one: it must be ``arch``
    or a variant of it (``FAMILY``; e.g. ``resnet18_s1`` for ``resnet18``, whose weights have the same shapes
    and would load silently into the wrong network). ``argument``: the option that named the folder, for the
    message when its weights are missing.
    """
    path = folder / "model.safetensors"
    if not path.is_file():
        data = "" if dataset == "folder" else f" --dataset {dataset}"
        raise FileNotFoundError(
            f"`{argument}` expected {path}; train it with "
            f"python benchmarks/train_fer_classifier.py --arch {arch}{data} --output {path.parent}"
        )
    record = folder / "training.json"
    built = json.loads(record.read_text()).get("arch", arch) if record.is_file() else arch
    if FAMILY.get(built, built) != arch:
        raise SystemExit(f"error: a {arch} classifier was expected in {folder}, "
                         f"but its training.json records a {built} one")
    net = load_classifier(built, path)
    stages = None  # ResNet-18: layer1..layer4, found automatically
    if arch == "vgg":  # the output of each block (its max-pool)
        stages = [f"features.{i}" for i, m in enumerate(net.features) if isinstance(m, nn.MaxPool2d)]
    return FrozenClassifier(net, preprocess=ClassifierPreprocess(mean=MEAN, std=STD), stages=stages)


def classifier_weights_digest(arch: str, root: Path, dataset: str = "folder") -> str:
    """SHA-256 (first 16 hex digits) of the classifier's ``model.safetensors``: which weights guided a run."""
    return weights_digest(classifier_folder(arch, root, dataset))


def weights_digest(folder: Path) -> str:
    """SHA-256 (first 16 hex digits) of ``folder/model.safetensors``."""
    digest = hashlib.sha256()
    with open(folder / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def claim_run(out: Path, recipe: dict) -> None:
    """Make ``out`` the run folder of ``recipe``, or check that it is, with the library's policy
    (`llenhance.training.runs.claim_run_folder`: a new folder starts, the same recipe resumes or is reused,
    another is refused with every difference named). A script stops with that message.

    The recipe names the classifier weights that guide a run and the weights it starts from (their
    ``weights_digest``): run folders are named after the recipe, so without them a retrained classifier
    would silently be scored with enhancers its predecessor guided.
    """
    from llenhance.training.runs import RunFolderError, claim_run_folder

    try:
        claim_run_folder(out, recipe, kind="enhancer", rerun_hint=" or pass another --work")
    except RunFolderError as err:
        raise SystemExit(f"error: {err}") from None


def load_faces(args: argparse.Namespace, split: str) -> Dataset:
    """The ``split`` faces of ``--data``; with ``--limit``, about that many (every k-th, all classes kept)."""
    data = fer_split(args.dataset, args.data, split, size=args.size)
    if args.limit is not None and args.limit < len(data):
        data.samples = data.samples[:: max(1, len(data) // args.limit)][: args.limit]
    return data


def dark_test_set(faces: Dataset, protocol: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(low, normal, labels) of all ``faces``, darkened with the protocol's fixed test seed."""
    data = SyntheticLowLight(faces, LowLightSynth(**PROTOCOLS[protocol]), seed=TEST_SEED)
    low, normal, labels = zip(*(data[i] for i in tqdm(range(len(data)), desc=f"dark val ({protocol})", leave=False)))
    return torch.stack(low), torch.stack(normal), torch.tensor(labels)


@torch.no_grad()
def apply(method: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch: int = 256,
          device: str | torch.device = "cpu") -> torch.Tensor:
    """``method`` on ``images``, ``batch`` at a time on ``device``; the result stays there."""
    return torch.cat([method(images[i : i + batch].to(device)).clamp(0, 1) for i in range(0, len(images), batch)])


def predict(classifier: FrozenClassifier, images: torch.Tensor, batch: int = 256,
            device: str | torch.device = "cpu") -> torch.Tensor:
    """The classes ``classifier`` (already on ``device``) gives ``images``, on the CPU."""
    return evaluation.predict(classifier, images, batch_size=batch, device=device)


#: The reader architectures of the transfer tables, with their display names.
ARCHS = {"resnet18": "ResNet-18", "vgg": "VGG-style CNN", "convnext_atto": "ConvNeXt-atto (timm)"}
#: The conditions faces are scored under: the two dark protocols and well lit.
CONDITIONS = ("paper", "realistic", "normal")
#: Mean grey level the global gamma baseline maps every face to.
GAMMA_TARGET = 0.45


def score(preds: dict[str, torch.Tensor], labels: torch.Tensor, reference: dict[str, torch.Tensor]) -> dict:
    """Accuracies per condition, recovered fractions per dark protocol, change on well-lit faces.

    ``reference`` holds the classifier's predictions without enhancement.
    """
    acc_normal = accuracy(reference["normal"], labels)
    row = {f"acc_{c}": accuracy(preds[c], labels) for c in CONDITIONS}
    for p in PROTOCOLS:
        acc_low = accuracy(reference[p], labels)
        row[f"recovered_{p}"] = None if acc_low == acc_normal else recovered_fraction(row[f"acc_{p}"], acc_low, acc_normal)
    row["normal_change"] = row["acc_normal"] - acc_normal
    return row
