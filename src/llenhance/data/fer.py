"""Facial expression datasets: class folders (FER2013 layout), RAF-DB basic, FERPlus.

Every dataset yields ``(image, label)`` with ``image`` a (3, H, W) float
tensor in [0, 1] (grayscale faces are repeated to three channels) and
``label`` an int. ``classes`` lists the class names in label order.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from llenhance.data._io import find_images, read_image, to_float

__all__ = ["FER2013_CLASSES", "FERPLUS_CLASSES", "RAFDB_CLASSES", "FERFolder", "FERPlus", "RAFDB"]

#: The usual FER2013 label order.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: RAF-DB basic labels 1..7, shifted to 0..6.
RAFDB_CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
#: FERPlus vote columns, in the order of ``fer2013new.csv``.
FERPLUS_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


class _LabelledImages(Dataset):
    def __init__(
        self,
        samples: list[tuple[Path, int]],
        classes: Sequence[str],
        transform: Callable | None,
        *,
        listing: Path | None = None,
    ) -> None:
        if listing is not None:  # samples read from a label file: every listed image must exist
            missing = [str(p) for p, _ in samples if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"{len(missing)} images listed in {listing} are missing, e.g. {missing[:3]}")
        self.samples = samples
        self.classes = tuple(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        image = to_float(read_image(path))
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]


class FERFolder(_LabelledImages):
    """Class-folder layout: ``root/<class>/<image>`` (as ``fer2013/{train,val}``).

    Args:
        root: the split folder.
        classes: class names in label order. ``None`` takes the sub-folder
            names sorted alphabetically; pass ``FER2013_CLASSES`` for the
            usual FER2013 order.
        transform: applied to each float image.

    Raises:
        FileNotFoundError: ``root`` or a named class folder is missing.
        ValueError: no class folders, or no images at all.
    """

    def __init__(
        self, root: str | Path, *, classes: Sequence[str] | None = None, transform: Callable | None = None
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"`root` expected a folder of class folders, {root} does not exist")
        found = sorted(p.name for p in root.iterdir() if p.is_dir())
        if classes is None:
            classes = found
        missing = [c for c in classes if c not in found]
        if missing:
            raise FileNotFoundError(f"`classes` expected folders under {root}, missing {missing} (found {found})")
        if not classes:
            raise ValueError(f"`root` expected class folders under {root}, found none")
        samples = [(p, label) for label, c in enumerate(classes) for p in find_images(root / c)]
        if not samples:
            raise ValueError(f"`root` expected images in the class folders of {root}, found none")
        super().__init__(samples, classes, transform)


class RAFDB(_LabelledImages):
    """RAF-DB basic expressions.

    Layout (as distributed): ``root/EmoLabel/list_patition_label.txt`` (or the
    file directly under ``root``) with lines ``train_00001.jpg 5``, and
    aligned faces in ``root/Image/aligned/train_00001_aligned.jpg``. Labels
    1..7 become 0..6 (``RAFDB_CLASSES``).

    Args:
        root: the RAF-DB ``basic`` folder.
        split: ``"train"`` or ``"test"``.
        transform: applied to each float image.
    """

    def __init__(self, root: str | Path, *, split: str = "train", transform: Callable | None = None) -> None:
        root = Path(root)
        if split not in ("train", "test"):
            raise ValueError(f"`split` expected 'train' or 'test', got {split!r}")
        candidates = [root / "EmoLabel" / "list_patition_label.txt", root / "list_patition_label.txt"]
        label_file = next((p for p in candidates if p.is_file()), None)
        if label_file is None:
            raise FileNotFoundError(f"`root` expected one of {[str(p) for p in candidates]}, found none")
        image_dir = root / "Image" / "aligned"
        samples = []
        for line_no, line in enumerate(label_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 7:
                raise ValueError(f"{label_file}:{line_no}: expected '<name> <label 1..7>', got {line!r}")
            name, label = parts[0], int(parts[1]) - 1
            if name.startswith(split + "_"):
                stem, suffix = name.rsplit(".", 1)
                samples.append((image_dir / f"{stem}_aligned.{suffix}", label))
        if not samples:
            raise ValueError(f"`split` {split!r} has no entries in {label_file}")
        super().__init__(samples, RAFDB_CLASSES, transform, listing=label_file)


class FERPlus(_LabelledImages):
    """FERPlus labels over FER2013 images, majority vote (as the paper uses it).

    Layout (as produced by the FERPlus repository's ``generate_training_data.py``):
    ``root/fer2013new.csv`` and the images in ``root/FER2013Train``,
    ``FER2013Valid``, ``FER2013Test``. Each row's label is the emotion with
    the most votes among the eight of ``FERPLUS_CLASSES``; rows without an
    image name, and rows whose top vote is "unknown" or "not a face", are
    left out, as in FERPlus's own majority mode. Ties go to the first class
    in column order. ``dropped`` counts the rows left out.

    Args:
        root: the FERPlus data folder.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform: applied to each float image.
    """

    _USAGE = {"train": ("Training", "FER2013Train"), "val": ("PublicTest", "FER2013Valid"),
              "test": ("PrivateTest", "FER2013Test")}

    def __init__(self, root: str | Path, *, split: str = "train", transform: Callable | None = None) -> None:
        root = Path(root)
        if split not in self._USAGE:
            raise ValueError(f"`split` expected one of {sorted(self._USAGE)}, got {split!r}")
        csv_path = root / "fer2013new.csv"
        if not csv_path.is_file():
            raise FileNotFoundError(f"`root` expected {csv_path}, which does not exist")
        usage, folder = self._USAGE[split]
        samples, self.dropped = [], 0
        with csv_path.open(newline="") as f:
            for row_no, row in enumerate(csv.reader(f), start=1):
                if row_no == 1 or not row or row[0] != usage:
                    continue
                if len(row) < 12:
                    raise ValueError(f"{csv_path}:{row_no}: expected 12 columns, got {len(row)}")
                name, votes = row[1].strip(), [int(v) for v in row[2:12]]
                top = max(range(10), key=lambda i: (votes[i], -i))
                if not name or top >= len(FERPLUS_CLASSES):
                    self.dropped += 1
                    continue
                samples.append((root / folder / name, top))
        if not samples:
            raise ValueError(f"`split` {split!r} has no usable rows in {csv_path}")
        super().__init__(samples, FERPLUS_CLASSES, transform, listing=csv_path)
