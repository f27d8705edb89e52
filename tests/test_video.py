"""Videos, webcams and faces: real files written by the tests, read back with OpenCV; the CLI as a subprocess."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import shared_data

cv2 = pytest.importorskip("cv2", reason='video support needs OpenCV: pip install "llenhance[video]"')

from llenhance.video import FaceDetector, enhance_video, read_frames, write_face_records  # noqa: E402

FPS, SIZE = 12.0, (160, 120)


def _dark_video(path: Path, frames: int = 6, face: np.ndarray | None = None, size: tuple[int, int] = SIZE) -> Path:
    """A dark test video: a gradient (and a face, moving) at 12 frames/s, mp4v."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    assert writer.isOpened()
    ramp = np.linspace(60, 200, w, dtype=np.float64)[None, :, None].repeat(h, 0).repeat(3, 2)
    for i in range(frames):
        frame = ramp.copy()
        if face is not None:
            y, x = h // 5 + i, w // 3 + 2 * i
            frame[y : y + face.shape[0], x : x + face.shape[1]] = face
        dark = (0.25 * (frame / 255) ** 1.8 * 255).round().astype(np.uint8)
        writer.write(cv2.cvtColor(dark, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _face(side: int) -> np.ndarray:
    """A real FER2013 face (val split), upscaled, RGB; skips without the shared data."""
    from PIL import Image

    folder = shared_data("fer2013", "val", "happy")
    image = Image.open(sorted(folder.glob("*.png"))[0]).convert("RGB").resize((side, side), Image.BICUBIC)
    return np.asarray(image).astype(np.float64)


def _properties(path: Path) -> tuple[float, int, int, int]:
    capture = cv2.VideoCapture(str(path))
    try:
        return (capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
                int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()


def test_whole_frames_keep_rate_and_size_and_are_enhanced(tmp_path: Path) -> None:
    from llenhance import enhance

    src = _dark_video(tmp_path / "dark.mp4")
    for suffix in (".mp4", ".avi", ".mkv", ".mov"):
        out = tmp_path / f"out{suffix}"
        stats = enhance_video(src, out, "llenet-sice", progress=False)
        assert stats.frames == 6 and stats.size == SIZE
        assert _properties(out) == (FPS, 6, *SIZE), suffix
    # frame by frame, the written video is enhance() of the read frames (up to the codec's loss)
    written = list(read_frames(tmp_path / "out.avi"))
    expected = [enhance(f, "llenet-sice") for f in read_frames(src)]
    assert len(written) == len(expected) == 6
    for got, want in zip(written, expected):
        assert np.abs(got.astype(float) - want.astype(float)).mean() < 6  # MJPG at default quality
        assert got.mean() > 2 * next(read_frames(src)).mean()  # brighter than the dark input


def test_frames_in_batches_match_one_at_a_time(tmp_path: Path) -> None:
    src = _dark_video(tmp_path / "dark.mp4")
    calls: list[int] = []
    from llenhance.inference import load_enhancer

    net = load_enhancer("llenet-sice")
    hook = net.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape[0]))
    try:
        enhance_video(src, tmp_path / "one.avi", net, progress=False)
        assert calls == [1] * 6
        calls.clear()
        stats = enhance_video(src, tmp_path / "four.avi", net, batch_size=4, progress=False)
        assert calls == [4, 2] and stats.frames == 6  # 6 frames: a batch of 4, then the 2 left
    finally:
        hook.remove()
    one, four = list(read_frames(tmp_path / "one.avi")), list(read_frames(tmp_path / "four.avi"))
    assert len(one) == len(four) == 6
    for a, b in zip(one, four):
        assert np.abs(a.astype(float) - b.astype(float)).mean() < 0.5
    with pytest.raises(ValueError, match="`batch_size` expected an int >= 1, got 0"):
        enhance_video(src, tmp_path / "o.avi", net, batch_size=0, progress=False)


def test_input_is_never_overwritten_and_errors_name_the_argument(tmp_path: Path) -> None:
    src = _dark_video(tmp_path / "dark.mp4")
    before = src.read_bytes()
    with pytest.raises(ValueError, match="`output` .* is the input video"):
        enhance_video(src, src, "llenet-sice", progress=False)
    with pytest.raises(ValueError, match="`output` expected a video file name"):
        enhance_video(src, tmp_path / "out.png", "llenet-sice", progress=False)
    with pytest.raises(FileNotFoundError, match="`source` .* does not exist"):
        enhance_video(tmp_path / "missing.mp4", tmp_path / "o.mp4", "llenet-sice", progress=False)
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(OSError, match="could not read .* as a video"):
        enhance_video(tmp_path / "notes.mp4", tmp_path / "o.mp4", "llenet-sice", progress=False)
    with pytest.raises(ValueError, match="`classifier` expected `faces=True`"):
        enhance_video(src, tmp_path / "o.mp4", "llenet-sice", classifier=torch.nn.Identity(), progress=False)
    assert src.read_bytes() == before and not (tmp_path / "o.mp4").exists()
    assert not list(tmp_path.glob(".llenhance-*"))  # no temporary files left


def test_webcam_that_is_absent_is_named(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="could not open webcam 99"):
        enhance_video(99, tmp_path / "cam.mp4", "llenet-sice", progress=False)


def test_detector_finds_no_face_in_images_too_thin_for_one() -> None:
    """V06f/I14: a 1x1, a 10000x10 and a 10x10000 image hold no face: none found (OpenCV raised on them)."""
    detect = FaceDetector()
    for shape in ((1, 1, 3), (10, 10000, 3), (10000, 10, 3), (7, 7, 3)):
        assert detect(np.full(shape, 128, np.uint8)) == [], shape


def test_faces_are_found_enhanced_and_classified(tmp_path: Path) -> None:
    from llenhance import FrozenClassifier
    from llenhance.classifier import ClassifierPreprocess

    face = _face(64)
    src = _dark_video(tmp_path / "dark.mp4", frames=5, face=face, size=(240, 180))
    assert FaceDetector()(next(read_frames(src)))  # the detector sees the dark face

    class Bright(torch.nn.Module):
        """Class 1 when the face's mean grey is above 0.3, else class 0: an independent, checkable classifier
        (the dark faces here average about 0.08; llenet-faces lifts a face's mean grey to about 0.45)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([0.3 - m, m - 0.3], 1) * 20

    classifier = FrozenClassifier(Bright(), preprocess=ClassifierPreprocess(mean=(0, 0, 0), std=(1, 1, 1)),
                                  stages=[])
    stats = enhance_video(src, tmp_path / "faces.mp4", faces=True, classifier=classifier, classes=["dark", "lit"],
                          progress=False)
    assert stats.frames == 5 and len(stats.faces) == 5
    for i, record in enumerate(stats.faces):
        assert record.frame == i and record.seconds == pytest.approx(i / FPS, abs=1e-3)
        # the box covers the face drawn at (x, y) = (240 // 3 + 2i, 180 // 5 + i), 64 px
        assert abs(record.x - (80 + 2 * i)) < 16 and abs(record.y - (36 + i)) < 16 and 40 < record.width < 90
        # the dark face reads "dark" to this classifier; enhanced, it reads "lit"
        assert record.expression == "lit" and record.confidence > 0.5
    first = next(read_frames(src))
    r = stats.faces[0]
    dark_face = torch.from_numpy(first[r.y : r.y + r.height, r.x : r.x + r.width].copy()).permute(2, 0, 1)
    assert int(classifier(dark_face[None].float() / 255).argmax()) == 0  # without enhancement: "dark"
    write_face_records(tmp_path / "faces.csv", stats.faces)
    rows = list(csv.DictReader(open(tmp_path / "faces.csv")))
    assert [r["expression"] for r in rows] == ["lit"] * 5 and rows[0]["frame"] == "0"
    frame = next(read_frames(tmp_path / "faces.mp4"))
    x, y, w, h = stats.faces[0].x, stats.faces[0].y, stats.faces[0].width, stats.faces[0].height
    inside = frame[y + 5 : y + h - 5, x + 5 : x + w - 5]
    assert inside.mean() > 0.4 * 255  # the face was enhanced in the written frame


def test_cli_video_and_faces(tmp_path: Path) -> None:
    face = _face(64)
    (tmp_path / "in").mkdir()
    src = _dark_video(tmp_path / "in" / "clip.mp4", frames=4, face=face, size=(240, 180))
    source_bytes = src.read_bytes()
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "llenhance.cli", "enhance", str(src), "--output", str(out), "--device", "cpu",
           "--faces", "--classifier", "torchvision.models:resnet18", "--classifier-size", "48"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _properties(out / "clip.mp4") == (FPS, 4, 240, 180)
    rows = list(csv.DictReader(open(out / "clip.faces.csv")))
    assert len(rows) == 4 and all(r["expression"] in
                                  ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral") for r in rows)
    assert "clip.mp4: 4 frames" in done.stdout
    assert re.search(r"clip.mp4: 4 faces in 4 frames \(expressions: \w+ \d.*\); rows in clip.faces.csv", done.stdout)
    # the files on disk: the mode open() would give (not the temporary file's private 0600), nothing left half
    # written, the input untouched
    import os

    umask = os.umask(0)
    os.umask(umask)
    for written in (out / "clip.mp4", out / "clip.faces.csv"):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask, written
    assert sorted(p.name for p in out.iterdir()) == ["clip.faces.csv", "clip.mp4"]
    assert src.read_bytes() == source_bytes
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # outputs exist: refused
    assert again.returncode == 2 and "--overwrite" in again.stderr
    plain = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(src), "--output",
                            str(tmp_path / "o2"), "--classifier", "torchvision.models:resnet18"],
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2 and "--classifier reads the expressions of faces: add --faces" in plain.stderr


def test_cli_faces_on_images_keeps_the_csv(tmp_path: Path) -> None:
    import PIL.Image

    face = _face(64)
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        frame = np.full((180, 240, 3), 120.0)
        frame[40:104, 80:144] = face
        PIL.Image.fromarray((255 * 0.25 * (frame / 255) ** 1.8).round().astype(np.uint8)).save(
            tmp_path / "in" / f"{name}.png")
    out = tmp_path / "out"
    base = [sys.executable, "-m", "llenhance.cli", "enhance", "--output", str(out), "--device", "cpu", "--faces"]
    first = subprocess.run(base + [str(tmp_path / "in" / "a.png")], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert [r["file"] for r in csv.DictReader(open(out / "faces.csv"))] == ["a.png"]
    refused = subprocess.run(base + [str(tmp_path / "in" / "b.png")], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "faces.csv" in refused.stderr  # no silent replacement
    added = subprocess.run(base + ["--skip-existing", str(tmp_path / "in")], capture_output=True, text=True,
                           timeout=300)
    assert added.returncode == 0, added.stderr
    assert [r["file"] for r in csv.DictReader(open(out / "faces.csv"))] == ["a.png", "b.png"]
    import os

    umask = os.umask(0)
    os.umask(umask)
    assert (out / "faces.csv").stat().st_mode & 0o777 == 0o666 & ~umask  # rewritten atomically, usual mode
    assert not list(out.glob(".llenhance-*"))


def test_face_records_of_several_files_and_kept_rows(tmp_path: Path) -> None:
    from llenhance.video import FaceRecord

    path = tmp_path / "faces.csv"
    write_face_records(path, [FaceRecord(0, 0.0, 0, 1, 2, 3, 4, "happy", 0.91234)], files=["a.png"])
    write_face_records(path, [FaceRecord(0, 0.0, 0, 5, 6, 7, 8), FaceRecord(0, 0.0, 1, 9, 9, 9, 9, "sad", 0.5)],
                       files=["b.png", "b.png"], keep_existing=True)
    rows = list(csv.reader(open(path)))
    assert rows == [
        ["file", "frame", "seconds", "face", "x", "y", "width", "height", "expression", "confidence"],
        ["a.png", "0", "0.0000", "0", "1", "2", "3", "4", "happy", "0.9123"],
        ["b.png", "0", "0.0000", "0", "5", "6", "7", "8", "", ""],
        ["b.png", "0", "0.0000", "1", "9", "9", "9", "9", "sad", "0.5000"],
    ]
    before = path.read_bytes()
    with pytest.raises(ValueError, match="`files` expected one name per record \\(1\\), got 2"):
        write_face_records(path, [FaceRecord(0, 0.0, 0, 1, 2, 3, 4)], files=["a", "b"])
    with pytest.raises(ValueError, match="holds other columns"):
        write_face_records(path, [FaceRecord(0, 0.0, 0, 1, 2, 3, 4)], keep_existing=True)  # no file column
    assert path.read_bytes() == before  # refused: the rows there are kept


def test_detect_every(tmp_path: Path) -> None:
    src = _dark_video(tmp_path / "dark.mp4", frames=7)
    calls = []

    class Fixed(FaceDetector):
        def __call__(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
            calls.append(int(frame.sum()))
            return [(10 + len(calls), 20, 40, 40)]  # a different box per search: which one a frame got shows

    stats = enhance_video(src, None, "llenet-faces", faces=True, detector=Fixed(), detect_every=3, progress=False)
    assert len(calls) == 3  # frames 0, 3 and 6
    assert [r.x for r in stats.faces] == [11, 11, 11, 12, 12, 12, 13]
    with pytest.raises(ValueError, match="`detect_every` expected an int >= 1, got 0"):
        enhance_video(src, None, "llenet-faces", faces=True, detect_every=0, progress=False)


def test_cli_absent_webcam(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", "--webcam", "99", "--output",
                           str(tmp_path / "cam"), "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "could not open webcam 99" in done.stderr and "WARN" not in done.stderr  # one clear line, no backend noise
    assert not list((tmp_path / "cam").glob("*.mp4")) if (tmp_path / "cam").exists() else True


def test_well_lit_frames_skip_the_gated_network(tmp_path: Path) -> None:
    from llenhance.inference import load_enhancer

    src = tmp_path / "bright.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    ramp = np.linspace(110, 230, SIZE[0]).astype(np.uint8)[None, :, None].repeat(SIZE[1], 0).repeat(3, 2)
    for _ in range(4):
        writer.write(ramp)
    writer.release()
    net = load_enhancer("llenet-photo")  # exposure gate (0.2, 0.35): these frames (mean ~0.66) pass
    calls: list[int] = []
    hook = net.register_forward_pre_hook(lambda _m, args: calls.append(1))
    try:
        enhance_video(src, tmp_path / "out.avi", net, batch_size=2, progress=False)
        enhance_video(_dark_video(tmp_path / "dark.mp4"), tmp_path / "dark.avi", net, batch_size=2, progress=False)
    finally:
        hook.remove()
    assert calls == [1] * 3  # the dark video's 3 batches only
    for got, want in zip(read_frames(tmp_path / "out.avi"), read_frames(src)):
        assert np.abs(got.astype(float) - want.astype(float)).mean() < 1  # the input, up to MJPG re-encoding


def test_feather_weights_closed_form() -> None:
    from llenhance.video_faces import _feather

    # a 10 px box with a 4 px margin on every side, inside a large frame
    weight = _feather((14, 24, 10, 10), (10, 20, 18, 18), 100, 100)[..., 0]
    assert weight.shape == (18, 18)
    assert (weight[4:14, 4:14] == 1).all()  # the box itself is the enhanced face
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(4) + 0.5) / 4)  # raised cosine across the margin
    np.testing.assert_allclose(weight[9, :4], ramp, rtol=1e-6)
    np.testing.assert_allclose(weight[9, 14:], ramp[::-1], rtol=1e-6)
    # a crop cut by the frame's left border: nothing to blend into there
    weight = _feather((0, 24, 10, 10), (0, 20, 14, 18), 100, 100)[..., 0]
    assert (weight[9, :10] == 1).all() and weight[9, -1] < 0.1


def test_faces_keep_colour_and_leave_no_box_edge(tmp_path: Path) -> None:
    """--faces on the dark sample portrait: the face gets the colour of the well-lit original back, and no step
    shows where the enhanced crop meets the frame."""
    from PIL import Image
    from skimage.data import astronaut

    from llenhance.metrics import chroma
    from llenhance.video_faces import _grow

    source = Path(__file__).resolve().parents[1] / "examples" / "images" / "astronaut.png"
    run = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(source), "--output",
                          str(tmp_path / "out"), "--faces"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    frame = np.asarray(Image.open(source).convert("RGB"))
    out = np.asarray(Image.open(tmp_path / "out" / "astronaut.png").convert("RGB")).astype(np.float64)
    original = astronaut()  # the well-lit photo the sample was darkened from
    (x, y, w, h), = FaceDetector()(frame)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)[None]

    inner = (slice(y + 3, y + h - 3), slice(x + 3, x + w - 3))  # inside the drawn box lines
    kept = chroma(tensor(out[inner])) / chroma(tensor(original[inner]))
    assert 0.9 <= float(kept) <= 1.25
    grey = out @ np.array([0.299, 0.587, 0.114])
    _, gy, _, gh = _grow((x, y, w, h), 0.2, frame.shape[1], frame.shape[0])
    rows = slice(gy + 3, gy + gh - 3)  # away from the drawn box's horizontal lines

    def step(col: int) -> float:
        return float(np.abs(grey[rows, col] - grey[rows, col - 1]).mean())

    inside = np.mean([step(c) for c in range(x + 4, x + w - 3)])
    for col in (x - 3, x + w + 3):  # across the crop, just outside the drawn box lines
        assert step(col) <= inside


def test_interrupted_faces_run_keeps_the_rows_of_written_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """I12: Ctrl-C while the third image is saved leaves faces.csv with the two written images' faces, and a
    --skip-existing rerun adds the third one's rows to them."""
    import shutil

    from llenhance import cli
    from llenhance.cli import enhance as enhance_module

    source = Path(__file__).resolve().parents[1] / "examples" / "images" / "astronaut.png"
    (tmp_path / "in").mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(source, tmp_path / "in" / f"{name}.png")
    out = tmp_path / "out"
    argv = ["enhance", str(tmp_path / "in"), "--output", str(out), "--faces", "--batch-size", "1"]
    real_save, saved = enhance_module.save_atomic, []

    def save_then_stop(image: object, path: Path, **kwargs: object) -> None:
        if len(saved) == 2:
            raise KeyboardInterrupt
        real_save(image, path, **kwargs)
        saved.append(path.name)

    monkeypatch.setattr(enhance_module, "save_atomic", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        cli.main(argv)
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "b.png"]
    assert [r["file"] for r in csv.DictReader(open(out / "faces.csv"))] == ["a.png", "b.png"]
    monkeypatch.setattr(enhance_module, "save_atomic", real_save)
    assert cli.main(argv + ["--skip-existing"]) == 0
    assert [r["file"] for r in csv.DictReader(open(out / "faces.csv"))] == ["a.png", "b.png", "c.png"]


def test_the_caller_s_and_the_shared_enhancers_are_left_as_they_were(tmp_path: Path) -> None:
    """A19/A20: enhance_video on another device leaves the cached built-in where it was (a later wrap() works),
    and a user's module in train mode is in train mode again afterwards (export too)."""
    from llenhance import LLENet, wrap
    from llenhance.export import export_onnx, export_torchscript
    from llenhance.inference import load_enhancer

    video = _dark_video(tmp_path / "dark.mp4", frames=2)
    with pytest.raises(Exception):  # noqa: B017 - nothing runs on the meta device; what matters is after
        enhance_video(video, None, "llenet-faces", device="meta", progress=False)
    assert next(load_enhancer("llenet-faces").parameters()).device.type == "cpu"
    model = wrap(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(7)))
    assert model(torch.rand(1, 3, 16, 16)).shape == (1, 7)
    mine = LLENet(width=4).train()
    enhance_video(video, None, mine, progress=False)
    assert mine.training
    export_onnx(mine, tmp_path / "m.onnx")
    export_torchscript(mine, tmp_path / "m.pt")
    assert mine.training


def test_strength_applies_to_videos_and_faces(tmp_path: Path) -> None:
    """C13: --strength 0 gives the input back for whole video frames and with --faces (boxes drawn aside)."""
    from PIL import Image

    source = Path(__file__).resolve().parents[1] / "examples" / "images" / "astronaut.png"
    video = _dark_video(tmp_path / "dark.mp4", frames=3)
    means = {}
    for strength in ("0", "1"):
        run = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(video), str(source), "--output",
                              str(tmp_path / f"out{strength}"), "--strength", strength, "--faces"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        # no classifier: the summary counts faces, without a made-up expression
        assert re.search(r"dark.mp4: \d+ faces in 3 frames; rows in dark.faces.csv", run.stdout), run.stdout
        frames = list(read_frames(tmp_path / f"out{strength}" / "dark.mp4"))
        means[strength] = (float(np.mean(frames)), float(np.mean(np.asarray(Image.open(
            tmp_path / f"out{strength}" / "astronaut.png").convert("RGB"), dtype=np.float64))))
    original = (float(np.mean(list(read_frames(video)))), float(np.mean(np.asarray(Image.open(source).convert("RGB"),
                                                                                    dtype=np.float64))))
    change = means["1"][0] - original[0]
    assert change > 10 and abs(means["0"][0] - original[0]) < 0.2 * change  # video (re-encoded: not exact)
    assert abs(means["0"][1] - original[1]) < 1.5 and means["1"][1] > original[1] + 10  # image with --faces


def test_a_killed_run_leaves_no_half_written_video(tmp_path: Path) -> None:
    """V11: SIGTERM half way through a video ends like Ctrl-C (no hidden temporary file, no output), and the
    temporary file of a run killed outright (SIGKILL: its process is gone) is removed by the next run."""
    import signal
    import time

    video = _dark_video(tmp_path / "long.mp4", frames=400)
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "llenhance.cli", "enhance", str(video), "--output", str(out),
                            "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(300):  # until the video is being written
        time.sleep(0.1)
        if list(out.glob(".llenhance-*")) or run.poll() is not None:
            break
    time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert not list(out.glob(".llenhance-*")) and not (out / "long.mp4").exists()
    # a run killed outright: its temporary file stays; the next run removes it (a live process's stays)
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / f".llenhance-{int(done.stdout)}-abcd.mp4"
    stale.write_bytes(b"half")
    live = out / f".llenhance-{os.getpid()}-efgh.mp4"
    live.write_bytes(b"mine")
    again = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(_dark_video(tmp_path / "short.mp4")),
                            "--output", str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not stale.exists() and f"removed {stale}" in again.stderr and live.exists()


def test_a_truncated_video_is_reported(tmp_path: Path) -> None:
    """V02b: an MJPG AVI cut in half decodes fewer frames than its header announces: said, not silent."""
    path = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.write((rng.random((SIZE[1], SIZE[0], 3)) * 60).astype(np.uint8))
    writer.release()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match=r"of the 30 frames its header announces could be read"):
        stats = enhance_video(path, None, "llenet-sice", progress=False)
    assert stats.truncated and stats.expected_frames == 30 and 0 < stats.frames < 30
    run = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(path), "--output", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "of the 30 frames its header announces" in run.stderr
    whole = enhance_video(_dark_video(tmp_path / "whole.mp4", frames=4), None, "llenet-sice", progress=False)
    assert not whole.truncated and whole.expected_frames == 4


def test_C11_face_size_below_eight_is_named(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[1] / "examples" / "images" / "astronaut.png"
    run = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(source), "--output", str(tmp_path / "o"),
                          "--faces", "--face-size", "0"], capture_output=True, text=True)
    assert run.returncode == 2 and "`face_size` (--face-size) expected an int >= 8 or None" in run.stderr
    assert "Traceback" not in run.stderr
