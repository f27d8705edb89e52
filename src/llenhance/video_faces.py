"""Faces in frames: the detector, a face record, and the face pass of ``enhance_video`` and ``llenhance enhance
--faces`` (find the faces, enhance each crop, blend it back, read its expression)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llenhance._atomic import atomic_path
from llenhance._color import LUMA

__all__ = ["FACE_EXPOSURE", "FaceDetector", "FacePass", "FaceRecord", "require_cv2", "write_face_records"]

_INSTALL = 'pip install "llenhance[video]"'
#: The mean grey level the face enhancer's exposure curve lifts a face crop to (``llenet-faces``'
#: ``curve_target``); with ``faces``, the rest of the frame gets the same curve.
FACE_EXPOSURE = 0.45
Box = tuple[int, int, int, int]  # x, y, width, height in pixels


def require_cv2() -> Any:
    """OpenCV, or an ImportError that says how to install it."""
    try:
        import cv2
    except ImportError as err:
        raise ImportError(f"video files, webcams and face detection need OpenCV: {_INSTALL}") from err
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        raise ImportError(
            f"OpenCV {cv2.__version__} ships no Haar face cascades (OpenCV 5 dropped them): "
            "pip install 'opencv-python-headless>=4.8,<5'"
        )
    return cv2


def _exposure_lut(grey_mean: float, target: float) -> np.ndarray:
    """A 256-entry gamma table that lifts a mean grey level (0-1) to ``target``; never darkens."""
    gamma = min(1.0, math.log(target) / math.log(min(max(grey_mean, 1e-4), 0.999)))
    return np.round(255 * (np.arange(256) / 255) ** gamma).astype(np.uint8)


class FaceDetector:
    """Frontal faces in RGB frames: OpenCV's bundled Haar cascade on an exposure-normalised grey copy.

    Args:
        min_size: smallest face, in frame pixels.
        detect_width: frames wider than this are searched at this width (faster).
        target: the grey level the frame's mean is lifted to before searching.
        neighbours: the cascade's ``minNeighbors`` (higher: fewer, surer faces).

    Examples:
        >>> import numpy as np
        >>> FaceDetector()(np.zeros((120, 160, 3), np.uint8))  # nothing in a black frame
        []
    """

    def __init__(self, *, min_size: int = 32, detect_width: int = 320, target: float = 0.45,
                 neighbours: int = 5) -> None:
        cv2 = require_cv2()
        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ImportError(f"OpenCV's face cascade {path} is missing or unreadable; reinstall: {_INSTALL}")
        self.min_size, self.detect_width, self.target, self.neighbours = min_size, detect_width, target, neighbours

    def __call__(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Faces of an (H, W, 3) uint8 RGB frame as ``(x, y, width, height)``, largest first."""
        cv2 = require_cv2()
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"`frame` expected an (H, W, 3) uint8 RGB array, got "
                             f"{getattr(frame, 'shape', type(frame).__name__)} {getattr(frame, 'dtype', '')}")
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.detect_width / grey.shape[1])
        smallest = max(8, round(self.min_size * scale))
        if min(grey.shape) * scale < smallest:
            return []  # narrower than the smallest face looked for (a 1-pixel or 10000x10 image): none
        if scale < 1:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        grey = cv2.LUT(grey, _exposure_lut(float(grey.mean()) / 255, self.target))
        found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=self.neighbours,
                                               minSize=(smallest, smallest))
        boxes = [tuple(round(v / scale) for v in box) for box in (found if len(found) else [])]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)  # type: ignore[return-value]


@dataclass(frozen=True)
class FaceRecord:
    """One face in one frame: where, and (with a classifier) its expression."""

    frame: int
    seconds: float
    face: int
    x: int
    y: int
    width: int
    height: int
    expression: str | None = None
    confidence: float | None = None


def frame_to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(2, 0, 1).float().div_(255).unsqueeze(0)


def tensor_to_frame(image: torch.Tensor) -> np.ndarray:
    return image[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def _feather(box: tuple[int, int, int, int], crop: tuple[int, int, int, int], width: int,
             height: int) -> np.ndarray:
    """(h, w, 1) paste weights of a ``crop`` of a ``width`` x ``height`` frame: 1 on the face ``box``,
    a raised-cosine fall to 0 across the margin. On a side where the crop meets the frame's border
    there is nothing to blend into, and the weight stays 1 up to it."""

    def axis(start: int, length: int, inner0: int, inner1: int, size: int) -> np.ndarray:
        pos = np.arange(length, dtype=np.float32) + 0.5
        weight = np.ones(length, dtype=np.float32)
        lead, tail = inner0 - start, start + length - inner1  # margin pixels before and after the box
        if lead > 0 and start > 0:
            weight = np.minimum(weight, 0.5 - 0.5 * np.cos(np.pi * np.clip(pos / lead, 0, 1)))
        if tail > 0 and start + length < size:
            weight = np.minimum(weight, 0.5 - 0.5 * np.cos(np.pi * np.clip((length - pos) / tail, 0, 1)))
        return weight

    bx, by, bw, bh = box
    x, y, w, h = crop
    rows, cols = axis(y, h, by, by + bh, height), axis(x, w, bx, bx + bw, width)
    return (rows[:, None] * cols[None, :])[..., None]


def _mean_grey(image: np.ndarray) -> float:
    """Mean BT.601 luma (0-1) of an (H, W, 3) uint8 RGB array."""
    return float(image.reshape(-1, 3).mean(0) @ np.asarray(LUMA)) / 255


def _grow(box: tuple[int, int, int, int], margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    x0, y0 = max(0, x - dx), max(0, y - dy)
    return x0, y0, min(width, x + w + dx) - x0, min(height, y + h + dy) - y0


class FacePass:
    """Per frame: faces found, their crops enhanced and feathered into the frame (lifted by the faces' exposure
    curve), classified."""

    def __init__(self, enhancer: nn.Module, detector: FaceDetector, classifier: nn.Module | None,
                 classes: Sequence[str] | None, margin: float, face_size: int | None, device: torch.device,
                 amp: bool) -> None:
        self.enhancer, self.detector, self.classifier = enhancer, detector, classifier
        if face_size is not None and (isinstance(face_size, bool) or not isinstance(face_size, int) or face_size < 8):
            raise ValueError(f"`face_size` (--face-size) expected an int >= 8 or None (each face at its own size), "
                             f"got {face_size!r}")
        self.classes, self.margin, self.face_size, self.device, self.amp = classes, margin, face_size, device, amp
        self.classifier_threads: int | None = None
        #: share of the change kept (``enhance(strength=)``): 0 gives the frame back, 1 all of the change
        self.strength = 1.0

    def _classify(self, face: torch.Tensor) -> torch.Tensor:
        """Class probabilities of one face; with ``classifier_threads``, on that many CPU threads."""
        threads = self.classifier_threads
        previous = torch.get_num_threads()
        if threads is not None and threads != previous:
            torch.set_num_threads(threads)
        try:
            return self.classifier(face).float().softmax(1)[0]  # type: ignore[misc]
        finally:
            if threads is not None and threads != previous:
                torch.set_num_threads(previous)

    def __call__(self, frame: np.ndarray, index: int, seconds: float,
                 boxes: list[tuple[int, int, int, int]] | None = None) -> tuple[np.ndarray, list[FaceRecord]]:
        out, faces = self.enhance(frame, self.detector(frame) if boxes is None else boxes)
        return self.classify(out, faces, index, seconds)

    @torch.inference_mode()
    def enhance(self, frame: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, list[Any]]:
        """The frame with its faces enhanced, and each face's box and pixels.

        Each crop (the box and its margin) is enhanced at its own resolution (at most ``face_size``
        a side, when set) and blended back with weights that fall from 1 on the box to 0 at the
        crop's edge, so no box edge shows. The rest of the frame gets the exposure curve the largest
        face's crop gets from a face enhancer (its mean grey lifted to `FACE_EXPOSURE`; the frame's
        own mean without faces), so face and frame are lit alike.
        """
        cv2 = require_cv2()
        height, width = frame.shape[:2]
        crops = [_grow(box, self.margin, width, height) for box in boxes]
        x, y, w, h = crops[0] if crops else (0, 0, width, height)  # boxes come largest first
        lifted = cv2.LUT(frame, _exposure_lut(_mean_grey(frame[y : y + h, x : x + w]), FACE_EXPOSURE))
        out = frame + self.strength * (lifted.astype(np.float32) - frame)
        faces = []
        for box, (x, y, w, h) in zip(boxes, crops):
            crop = frame[y : y + h, x : x + w]
            scale = 1.0 if self.face_size is None else min(1.0, self.face_size / max(w, h))
            if scale < 1:  # a cap on the cost of very large faces
                crop = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))),
                                  interpolation=cv2.INTER_AREA)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                given = frame_to_tensor(crop, self.device)
                enhanced = torch.lerp(given, self.enhancer(given).float().clamp(0, 1), self.strength)
            pixels = tensor_to_frame(enhanced)
            if scale < 1:
                pixels = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_LINEAR)
            weight = _feather(box, (x, y, w, h), width, height)
            region = out[y : y + h, x : x + w]
            region += weight * (pixels.astype(np.float32) - region)
            bx, by, bw, bh = box  # the classifier reads the face box itself, as in training crops
            sy, sx = enhanced.shape[-2] / h, enhanced.shape[-1] / w
            faces.append((box, enhanced[..., round((by - y) * sy) : round((by - y + bh) * sy),
                                        round((bx - x) * sx) : round((bx - x + bw) * sx)]))
        return np.clip(out.round(), 0, 255).astype(np.uint8), faces

    @torch.inference_mode()
    def classify(self, out: np.ndarray, faces: list[Any], index: int,
                 seconds: float) -> tuple[np.ndarray, list[FaceRecord]]:
        """Expressions of the enhanced faces, drawn into ``out``; the frame's records."""
        cv2 = require_cv2()
        records = []
        for number, (box, face) in enumerate(faces):
            label, confidence = None, None
            if self.classifier is not None:
                probs = self._classify(face)
                top = int(probs.argmax())
                label = self.classes[top] if self.classes is not None else str(top)
                confidence = float(probs[top])
            records.append(FaceRecord(index, round(seconds, 3), number, *box, label, confidence))
            bx, by, bw, bh = box
            cv2.rectangle(out, (bx, by), (bx + bw, by + bh), (0, 255, 0), 2)
            if label is not None:
                cv2.putText(out, f"{label} {confidence:.2f}", (bx, max(12, by - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5, (0, 255, 0), 1, cv2.LINE_AA)
        return out, records


def write_face_records(path: str | Path, records: Sequence[FaceRecord], *, files: Sequence[str] | None = None,
                       keep_existing: bool = False) -> None:
    """The records as CSV, one row per face per frame, written atomically.

    Args:
        path: the CSV file.
        records: the faces.
        files: for faces of several images, each record's file name: a first
            ``file`` column.
        keep_existing: keep the rows of an existing ``path`` (of the same
            columns) and add these after them.
    """
    if files is not None and len(files) != len(records):
        raise ValueError(f"`files` expected one name per record ({len(records)}), got {len(files)}")
    header = (["file"] if files is not None else []) + [f.name for f in fields(FaceRecord)]
    kept: list[list[str]] = []
    if keep_existing and Path(path).is_file():
        with open(path, newline="") as handle:
            old = list(csv.reader(handle))
        if old and old[0] != header:
            raise ValueError(f"`path` {path} holds other columns ({', '.join(old[0])}); choose another file")
        kept = old[1:]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(kept)
        for i, record in enumerate(records):
            row = ["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in astuple(record)]
            writer.writerow(([files[i]] if files is not None else []) + row)
