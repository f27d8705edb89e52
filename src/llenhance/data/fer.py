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

    Two layouts are read:

    - FERPlus's own (as its ``generate_training_data.py`` writes it):
      ``root/fer2013new.csv`` with columns ``Usage, Image name`` and the ten
      vote counts, images in ``root/FER2013Train``, ``FER2013Valid``,
      ``FER2013Test``;
    - one label file over FER2013 class folders: ``root/labels.csv`` with
      columns ``image, split, fer2013_label`` and ``ferplus_<column>`` for the
      ten vote counts, images in ``root/<split>/<fer2013_label>/<image>``
      (splits ``train`` and ``val``).

    Each face's label is the column with the most of the ten votes. A face is
    left out when that column is "unknown" or "not a face", when the top count
    is shared by two or more columns (a tie has no majority), or when it has
    no image name. ``dropped`` counts the faces left out.

    Args:
        root: the FERPlus data folder.
        split: ``"train"``, ``"val"`` or ``"test"`` (``"test"`` only in FERPlus's layout).
        transform: applied to each float image.

    Raises:
        FileNotFoundError: neither label file exists, or a listed image is missing.
        ValueError: unknown ``split``, a malformed row, or no usable rows.
    """

    _USAGE = {"train": ("Training", "FER2013Train"), "val": ("PublicTest", "FER2013Valid"),
              "test": ("PrivateTest", "FER2013Test")}
    _VOTES = (*FERPLUS_CLASSES, "unknown", "NF")

    def __init__(self, root: str | Path, *, split: str = "train", transform: Callable | None = None) -> None:
        root = Path(root)
        if split not in self._USAGE:
            raise ValueError(f"`split` expected one of {sorted(self._USAGE)}, got {split!r}")
        shared, original = root / "labels.csv", root / "fer2013new.csv"
        if shared.is_file():
            csv_path, rows = shared, self._shared_rows(shared, root, split)
        elif original.is_file():
            csv_path, rows = original, self._original_rows(original, root, split)
        else:
            raise FileNotFoundError(f"`root` expected {shared} or {original}, neither exists")
        samples, self.dropped = [], 0
        for path, votes in rows:
            top = max(votes)
            label = votes.index(top)
            if path is None or votes.count(top) > 1 or label >= len(FERPLUS_CLASSES):
                self.dropped += 1
                continue
            samples.append((path, label))
        if not samples:
            raise ValueError(f"`split` {split!r} has no usable rows in {csv_path}")
        super().__init__(samples, FERPLUS_CLASSES, transform, listing=csv_path)

    @classmethod
    def _original_rows(cls, csv_path: Path, root: Path, split: str) -> list[tuple[Path | None, list[int]]]:
        usage, folder = cls._USAGE[split]
        rows = []
        with csv_path.open(newline="") as f:
            for row_no, row in enumerate(csv.reader(f), start=1):
                if row_no == 1 or not row or row[0] != usage:
                    continue
                if len(row) < 12:
                    raise ValueError(f"{csv_path}:{row_no}: expected 12 columns, got {len(row)}")
                name = row[1].strip()
                rows.append((root / folder / name if name else None, _votes(row[2:12], csv_path, row_no)))
        return rows

    @classmethod
    def _shared_rows(cls, csv_path: Path, root: Path, split: str) -> list[tuple[Path | None, list[int]]]:
        if split == "test":
            raise ValueError(f"`split` 'test' is not in {csv_path} (it holds 'train' and 'val')")
        columns = [f"ferplus_{name}" for name in cls._VOTES]
        rows = []
        with csv_path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("image", "split", "fer2013_label", *columns) if c not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"{csv_path}: expected columns {missing}, not in the header")
            for row_no, row in enumerate(reader, start=2):
                if row["split"] != split:
                    continue
                name = row["image"].strip()
                path = root / split / row["fer2013_label"] / name if name else None
                rows.append((path, _votes([row[c] for c in columns], csv_path, row_no)))
        return rows


def _votes(cells: Sequence[str], csv_path: Path, row_no: int) -> list[int]:
    try:
        return [int(v) for v in cells]
    except ValueError:
        raise ValueError(f"{csv_path}:{row_no}: expected ten vote counts, got {list(cells)}") from None
