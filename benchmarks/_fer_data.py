"""FER splits for the benchmark scripts: FER2013 class folders, RAF-DB basic, FERPlus, GENKI-4K (colour)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision.transforms import v2
from tqdm import tqdm

from llenhance.data import FER2013_CLASSES, RAFDB, FERFolder, FERPlus

DATASETS = ("folder", "rafdb", "ferplus", "genki")
#: GENKI-4K has no split: every VAL_EVERY-th face of each class (sorted by name) is val, the rest train.
VAL_EVERY = 5
#: The FER2013 copy the published numbers come from.
from _paths import DATA as SHARED  # noqa: E402  (one data root for all benchmarks)

FER2013 = SHARED / "fer2013"


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data options every FER benchmark script takes: ``--data``, ``--dataset``, ``--size``."""
    parser.add_argument("--data", type=Path, default=FER2013, help="data set root (default: ../shared/data/fer2013)")
    parser.add_argument("--dataset", choices=DATASETS, default="folder",
                        help="folder: root/{train,val}/<class>/ (FER2013, 7 classes); rafdb: RAF-DB basic; "
                             "ferplus: FERPlus majority vote, 8 classes (root/labels.csv over the FER2013 folders, "
                             "or FERPlus's own fer2013new.csv layout); genki: GENKI-4K colour crops, "
                             "root/{non_smile,smile}/, every 5th face of each class is val")
    parser.add_argument("--size", type=int, default=48, help="faces are resized to size x size")


def every_nth_of_each_class(targets: list[int], split: str, every: int = VAL_EVERY) -> list[int]:
    """Indices of ``split`` in class-grouped ``targets``: every ``every``-th item of each class is "val"
    (counted from the class's first item), the others "train"."""
    first = {label: targets.index(label) for label in set(targets)}
    return [i for i, label in enumerate(targets) if ((i - first[label]) % every == 0) == (split == "val")]


def fer_split(
    dataset: str, root: Path, split: str, *, size: int | None = None
) -> FERFolder | RAFDB | FERPlus:
    """``split`` ("train" or "val") of a FER data set; faces resized to ``size`` x ``size`` when given.

    - ``folder``: ``root/<split>/<class>/`` (FER2013 layout; FER2013 label
      order when the class folders are FER2013's, else alphabetical);
    - ``rafdb``: the RAF-DB ``basic`` folder; "val" is RAF-DB's test split;
    - ``ferplus``: ``labels.csv`` over the FER2013 folders or FERPlus's own folder (majority vote,
      ties dropped);
    - ``genki``: GENKI-4K colour crops, ``root/<class>/`` (alphabetical: non_smile, smile); every
      `VAL_EVERY`-th face of each class (by file name) is val, the others train.
    """
    if dataset not in DATASETS:
        raise ValueError(f"`dataset` expected one of {DATASETS}, got {dataset!r}")
    resize = v2.Resize((size, size), antialias=True) if size else None
    if dataset == "rafdb":
        return RAFDB(root, split="train" if split == "train" else "test", transform=resize)
    if dataset == "ferplus":
        return FERPlus(root, split=split, transform=resize)
    if dataset == "genki":
        faces = FERFolder(root, transform=resize)
        subset = Subset(faces, every_nth_of_each_class(faces.targets, split))  # samples are grouped by class
        subset.classes = faces.classes  # type: ignore[attr-defined]
        return subset  # type: ignore[return-value]
    folders = {p.name for p in (root / split).iterdir() if p.is_dir()} if (root / split).is_dir() else set()
    classes = FER2013_CLASSES if folders == set(FER2013_CLASSES) else None
    return FERFolder(root / split, classes=classes, transform=resize)


def preload(data: Dataset) -> TensorDataset:
    """Decode every image once into memory (FER2013 train is 0.8 GB as float32)."""
    images, labels = zip(*(data[i] for i in tqdm(range(len(data)), desc="loading", leave=False)))  # type: ignore[arg-type]
    return TensorDataset(torch.stack(images), torch.tensor(labels))
