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

import itertools
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llenhance._atomic import atomic_path
from llenhance._checks import deprecated_alias
from llenhance.video_faces import (
    Box,
    FaceDetector,
    FacePass,
    FaceRecord,
    frame_to_tensor,
    require_cv2,
    tensor_to_frame,
    write_face_records,
)

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
                    batch = torch.cat([frame_to_tensor(frame, device) for frame in chunk])
                    # well-lit frames that an exposure gate passes unchanged skip the network
                    outs = batch if passes_unchanged(net, batch) else net(batch).float()
                    outs = torch.lerp(batch.float(), outs, float(strength))
                yield from ((tensor_to_frame(out), []) for out in outs.split(1))
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
