"""Video files and webcams: enhance every frame, or find the faces, enhance them and read their expressions.

Needs OpenCV (``pip install "llenhance[video]"``), imported on first use.
Faces are found with the frontal-face Haar cascade that OpenCV ships inside
its package (no download at run time), on a copy of the frame whose
exposure is normalised first: in a dark frame the detector finds nothing.

The written video has the frame rate and size of the input and **no audio**
(OpenCV writes pictures only). To keep the sound, copy it back from the
input, e.g. ``ffmpeg -i out.mp4 -i in.mp4 -map 0:v -map 1:a? -c copy with_sound.mp4``.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llenhance._atomic import atomic_path
from llenhance._color import LUMA
from llenhance._checks import deprecated_alias

__all__ = [
    "VIDEO_EXTENSIONS",
    "FaceDetector",
    "FaceRecord",
    "VideoStats",
    "enhance_video",
    "read_frames",
    "require_cv2",
    "write_face_records",
]

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov"})
#: Codec written per container.
_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
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


@dataclass
class VideoStats:
    """What `enhance_video` did."""

    frames: int
    fps: float
    size: tuple[int, int]
    seconds: float
    faces: list[FaceRecord]
    #: frames the file's header announces (``None`` for a webcam or when it does not say); more than
    #: ``frames`` without ``max_frames`` cutting it short means the file is truncated or damaged
    expected_frames: int | None = None

    @property
    def truncated(self) -> bool:
        """Whether fewer frames could be read than the header announces."""
        return self.expected_frames is not None and self.frames < self.expected_frames

    @property
    def frames_per_second(self) -> float:
        """Processing speed (frames per wall-clock second)."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def _open(source: str | int | Path) -> Any:
    cv2 = require_cv2()
    if isinstance(source, int):
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            raise OSError(f"could not open webcam {source} (is a camera connected, and is it free?)")
        return capture
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"`source` {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"could not read {path} as a video (unknown codec or not a video file)")
    return capture


def read_frames(source: str | int | Path, *, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Frames of a video file or a webcam (an int index) as (H, W, 3) uint8 RGB arrays."""
    cv2 = require_cv2()
    capture = _open(source)
    try:
        count = 0
        ok, frame = capture.read()
        while ok and (max_frames is None or count < max_frames):
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            count += 1
            ok, frame = capture.read()
    finally:
        capture.release()


def _prefetch(items: Iterator[Any], depth: int = 4) -> Iterator[Any]:
    """``items``, produced in a background thread (OpenCV's decoding and detection release the GIL,
    so they overlap the network); the thread stops when the consumer does."""
    done, stop = object(), threading.Event()
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def put(item: Any) -> bool:
        """Hand ``item`` to the consumer; False once the consumer has stopped."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as err:  # noqa: BLE001 (re-raised in the consumer)
            failure.append(err)
        finally:
            getattr(items, "close", lambda: None)()  # releases the capture
            put(done)

    worker = threading.Thread(target=produce, name="llenhance-video-reader", daemon=True)
    worker.start()
    try:
        item = buffer.get()
        while item is not done:
            yield item
            item = buffer.get()
        if failure:
            raise failure[0]
    finally:
        stop.set()
        worker.join(timeout=5)


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(2, 0, 1).float().div_(255).unsqueeze(0)


def _to_uint8(image: torch.Tensor) -> np.ndarray:
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
                given = _to_tensor(crop, self.device)
                enhanced = torch.lerp(given, self.enhancer(given).float().clamp(0, 1), self.strength)
            pixels = _to_uint8(enhanced)
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


def enhance_video(
    source: str | int | Path,
    output: str | Path | None,
    enhancer: nn.Module | str | None = None,
    *,
    faces: bool = False,
    classifier: nn.Module | None = None,
    classes: Sequence[str] | None = None,
    detector: FaceDetector | None = None,
    margin: float = 0.2,
    face_size: int | None = None,
    detect_every: int = 2,
    classifier_threads: int | None = None,
    device: str | torch.device = "cpu",
    amp: bool = False,
    batch_size: int = 1,
    strength: float = 1.0,
    max_frames: int | None = None,
    progress: bool = True,
    on_frame: Callable[[int, list[FaceRecord]], None] | None = None,
    half: bool | None = None,
) -> VideoStats:
    """Enhance a video file or a webcam stream; optionally find faces and read their expressions.

    Without ``faces``, every frame goes through the enhancer whole. With
    ``faces``, only the faces are enhanced (crops with a ``margin``, at their own
    resolution, feathered back into the frame), the rest of the frame gets the
    exposure curve the face got (cheap), faces are boxed, and with a ``classifier`` each face
    is labelled with its expression: the speed a live FER pipeline needs.

    Args:
        source: a video file (mp4, avi, mkv, mov) or a webcam index.
        output: the video to write (same frame rate and size, no audio),
            written atomically; ``None`` writes nothing (for the records).
        enhancer: an enhancer module, a weights name / folder / Hub repo id,
            or ``None``: ``llenet-faces`` with ``faces``, else ``llenet-photo``.
        faces: detect faces and enhance only them.
        classifier: a frozen FER classifier that takes RGB images in [0, 1]
            (wrap yours in `FrozenClassifier` with its preprocessing); needs
            ``faces``.
        classes: names of the classifier's outputs (default: their indices).
        detector: the face detector (default `FaceDetector()`).
        margin: share of the face box added on each side of the crop.
        face_size: ``None`` (default): every face crop is enhanced at its own
            resolution (no blur from scaling down and up). A number caps the
            crop's longer side (larger crops are enhanced scaled down and
            scaled back): a bounded cost per face for live video on a CPU
            (64: near the 48 px faces ``llenet-faces`` was trained on).
        detect_every: search for faces in every N-th frame and keep the boxes
            in between (faces move little in a frame's time; detection is a
            third of the per-frame cost on a CPU). 1: every frame.
        classifier_threads: run the classifier on this many CPU threads (and
            the rest on the process's setting). A ResNet-18 on a 48 px face
            is bound by reading its weights and gains from a second thread,
            while the enhancer's small layers do not: on a 2-core CPU, one
            thread for the process and 2 here is the fast mix. ``None``:
            the process's setting for everything.
        device: where the enhancer and the classifier run.
        amp: bfloat16 autocast (CUDA only; ``half`` before 0.4, deprecated).
        batch_size: whole frames per forward pass (without ``faces``; with
            ``faces``, the crops of each frame go through together). More
            than 1 pays on a GPU; a webcam's output then lags by the batch.
        strength: share of the change kept, in [0, 1], as ``enhance(strength=)``: 0 writes the
            frames as they are, 1 (default) all of the change; with ``faces`` for the faces and the
            rest of the frame alike.
        max_frames: stop after this many frames (a webcam runs until Ctrl-C
            otherwise).
        progress: a tqdm bar.
        on_frame: called with (frame index, the frame's face records).

    Returns:
        VideoStats: frames, frame rate, size, wall time and the face records.
    """
    from tqdm.auto import tqdm

    from llenhance.inference import borrowed, passes_unchanged
    from llenhance.pretrained import DEFAULT_FACE_WEIGHTS, DEFAULT_WEIGHTS

    cv2 = require_cv2()
    device = torch.device(device)
    amp = deprecated_alias(half, "half", amp, "amp")
    if amp and device.type != "cuda":
        raise ValueError(f"`amp` expected a CUDA `device` (bfloat16 autocast), got {device}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` expected an int >= 1, got {batch_size!r}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"`strength` expected a number in [0, 1], got {strength!r}")
    if isinstance(detect_every, bool) or not isinstance(detect_every, int) or detect_every < 1:
        raise ValueError(f"`detect_every` expected an int >= 1, got {detect_every!r}")
    if classifier is not None and not faces:
        raise ValueError("`classifier` expected `faces=True` (expressions are read from face crops)")
    if output is not None and Path(output).suffix.lower() not in VIDEO_EXTENSIONS:
        raise ValueError(f"`output` expected a video file name ({', '.join(sorted(VIDEO_EXTENSIONS))}), got {output}")
    if not isinstance(source, int):
        source = Path(source)
        if output is not None and Path(output).resolve() == source.resolve():
            raise ValueError(f"`output` {output} is the input video; choose another file")
    if enhancer is None:
        enhancer = DEFAULT_FACE_WEIGHTS if faces else DEFAULT_WEIGHTS
    # the caller's module comes back in its own mode; the cached built-in that enhance() and wrap() share
    # is never moved (a per-device copy): as in enhance()
    with borrowed(enhancer, device) as net:
        if classifier is not None:
            classifier = classifier.to(device).eval()
        capture = _open(source)
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not isinstance(source, int) else None
        capture.release()
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        expected = total if total and total > 0 else None
        face_pass = FacePass(net, detector or FaceDetector(), classifier, classes, margin, face_size, device, amp) \
            if faces else None
        if face_pass is not None:
            if classifier_threads is not None and (isinstance(classifier_threads, bool) or not isinstance(
                    classifier_threads, int) or classifier_threads < 1):
                raise ValueError(f"`classifier_threads` expected an int >= 1 or None, got {classifier_threads!r}")
            face_pass.classifier_threads = classifier_threads
            face_pass.strength = float(strength)
        records: list[FaceRecord] = []
        started = time.perf_counter()
        count = 0

        def detected(frames: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, list[Box]]]:
            boxes: list[Box] = []
            for index, frame in enumerate(frames):
                if index % detect_every == 0:
                    boxes = face_pass.detector(frame)  # type: ignore[union-attr]
                yield frame, boxes

        def faces_done(items: Iterator[tuple[np.ndarray, list[Box]]]) -> Iterator[tuple[np.ndarray, list[FaceRecord]]]:
            for index, (frame, boxes) in enumerate(items):
                yield face_pass(frame, index, index / fps, boxes)  # type: ignore[misc]

        def frames_done(frames: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, list[FaceRecord]]]:
            chunk = list(itertools.islice(frames, batch_size))
            while chunk:
                with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    batch = torch.cat([_to_tensor(frame, device) for frame in chunk])
                    # well-lit frames that an exposure gate passes unchanged skip the network
                    outs = batch if passes_unchanged(net, batch) else net(batch).float()
                    outs = torch.lerp(batch.float(), outs, float(strength))
                yield from ((_to_uint8(out), []) for out in outs.split(1))
                chunk = list(itertools.islice(frames, batch_size))

        def run(writer: Any) -> None:
            nonlocal count
            bar = tqdm(total=total or None, desc="video", unit="frame", disable=not progress, dynamic_ncols=True)
            try:
                frames = read_frames(source, max_frames=max_frames)
                # decoding and face detection run in a reader thread (OpenCV releases the GIL), beside the network
                ready = _prefetch(detected(frames) if face_pass is not None else frames)
                for out, found in (faces_done(ready) if face_pass is not None else frames_done(ready)):
                    records.extend(found)
                    if writer is not None:
                        writer.write(cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
                    if on_frame is not None:
                        on_frame(count, found)
                    count += 1
                    bar.update(1)
            except KeyboardInterrupt:
                if not isinstance(source, int):
                    raise  # a file stopped half way leaves no half-written video
            finally:
                bar.close()

        _write(output, run, source, fps, size, lambda: count)
        stats = VideoStats(frames=count, fps=fps, size=size, seconds=time.perf_counter() - started, faces=records,
                           expected_frames=expected if not isinstance(source, int) else None)
        if stats.truncated:
            warnings.warn(f"{source}: {count} of the {expected} frames its header announces could be read; the file "
                          "may be truncated or damaged (the output holds the frames that were read)", stacklevel=2)
        return stats


def _write(output: str | Path | None, run: Callable[[Any], None], source: Any, fps: float, size: tuple[int, int],
           count: Callable[[], int]) -> None:
    """``run(writer)`` into ``output`` written atomically (``run(None)`` without an output)."""
    cv2 = require_cv2()
    if output is None:
        run(None)
    else:
        with atomic_path(output) as tmp:
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*_FOURCC[tmp.suffix.lower()]), fps, size)
            if not writer.isOpened():
                raise OSError(f"could not write a {tmp.suffix} video with OpenCV (codec {_FOURCC[tmp.suffix.lower()]})")
            try:
                run(writer)
            finally:
                writer.release()
            if count() == 0:
                raise OSError(f"no frames could be read from {source}")


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
