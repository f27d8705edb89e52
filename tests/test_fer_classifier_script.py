from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_fer_classifier.py"
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_smoke_run_writes_fp16_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in CLASSES:
            (tmp_path / "fer" / split / c).mkdir(parents=True)
            for i in range(2):
                PIL.Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(tmp_path / "fer" / split / c / f"{i}.png")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(tmp_path / "fer"), "--output", str(out), "--epochs", "1",
         "--batch-size", "4", "--limit", "14", "--threads", "1"],
        capture_output=True, text=True, timeout=300, env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout[done.stdout.index("{"):])
    assert 0.0 <= result["val_accuracy"] <= 1.0 and result["train_images"] == 14
    weights = load_file(out / "model.safetensors")
    assert weights["conv1.weight"].dtype == torch.float16 and weights["conv1.weight"].shape == (64, 3, 3, 3)
    assert (out / "checkpoint.pt").is_file()
    assert 0.0 <= result["val_accuracy_flip"] <= 1.0
    # the same command on the finished checkpoint evaluates again and keeps the training run's time
    again = subprocess.run(done.args, check=False, capture_output=True, text=True, timeout=300,
                           env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert again.returncode == 0 and "resuming after epoch 1" in again.stdout, again.stderr[-2000:]
    second = json.loads(again.stdout[again.stdout.index("{"):])
    assert second["wall_seconds_this_run"] == result["wall_seconds_this_run"]
    assert second["val_accuracy"] == result["val_accuracy"]


def _faces(root: Path, per_class: int) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                PIL.Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path: Path) -> None:
    # the VGG-style head has dropout: its draws after the resume must continue the interrupted run's stream
    data = _faces(tmp_path / "fer", 2)
    env = os.environ | {"OMP_NUM_THREADS": "1"}

    def run(out: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--data", str(data), "--output", str(out), "--arch", "vgg", "--epochs", "2",
             "--batch-size", "4", "--limit", "14", "--threads", "1", *extra],
            check=False, capture_output=True, text=True, timeout=300, env=env,
        )

    before = {p: p.read_bytes() for p in data.rglob("*.png")}
    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    stopped = run(tmp_path / "parts", "--stop-after", "1")
    assert stopped.returncode == 0 and "stopped after epoch 1" in stopped.stdout, stopped.stderr[-2000:]
    assert not (tmp_path / "parts" / "model.safetensors").exists()
    assert torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    resumed = run(tmp_path / "parts")
    assert resumed.returncode == 0 and "resuming after epoch 1" in resumed.stdout, resumed.stderr[-2000:]
    a, b = load_file(tmp_path / "whole" / "model.safetensors"), load_file(tmp_path / "parts" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # on disk: the input faces untouched, no half-written temporary files, the checkpoint with the usual mode
    assert {p: p.read_bytes() for p in data.rglob("*.png")} == before
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["checkpoint.pt", "model.safetensors",
                                                                     "training.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "parts" / "checkpoint.pt").stat().st_mode & 0o777 == 0o666 & ~umask
    # the recorded command is the recipe, without the stop, and names where it ran
    command = json.loads((tmp_path / "parts" / "training.json").read_text())["command"]
    assert "--stop-after" not in command and "--device cpu" in command


def test_stop_after_must_be_an_epoch(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path), "--output", str(tmp_path / "o"),
                           "--stop-after", "0"], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "`--stop-after` expected an epoch of 1 or more, got 0" in done.stderr


def _script():
    sys.path.insert(0, str(SCRIPT.parent))
    import train_fer_classifier

    return train_fer_classifier


def test_affine_matches_torchvision() -> None:
    from torchvision.transforms.v2 import functional as TF

    tfc = _script()
    x = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    zero, one, no = torch.zeros(2), torch.ones(2), torch.zeros(2, dtype=torch.bool)
    assert torch.allclose(tfc.affine(x, zero, one, torch.zeros(2, 2), no), x, atol=1e-6)
    # a quarter turn clockwise as displayed is torchvision's rotate by -90 degrees (counter-clockwise positive)
    quarter = torch.full((2,), torch.pi / 2)
    expected = TF.rotate(x, -90.0, interpolation=TF.InterpolationMode.BILINEAR)
    assert torch.allclose(tfc.affine(x, quarter, one, torch.zeros(2, 2), no), expected, atol=1e-5)
    # rotation first, then the mirror
    flipped = tfc.affine(x, quarter, one, torch.zeros(2, 2), torch.ones(2, dtype=torch.bool))
    assert torch.allclose(flipped, expected.flip(-1), atol=1e-5)
    # a whole-pixel shift (3 right, 2 up) moves every pixel that stays inside
    moved = tfc.affine(x, zero, one, torch.tensor([[3.0, -2.0]] * 2), no)
    assert torch.allclose(moved[..., :8, 3:], x[..., 2:, :7], atol=1e-5)
    # scale 2 about the centre (3.5) of an 8x8 image: output pixel j samples input coordinate 3.5 + (j - 3.5) / 2
    y = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    zoomed = tfc.affine(y, zero[:1], torch.full((1,), 2.0), torch.zeros(1, 2), no[:1])
    assert torch.allclose(zoomed[0, 0, 0], 3.5 + (torch.arange(8.0) - 3.5) / 2, atol=1e-5)


def test_flip_evaluation_averages_the_mirror_image() -> None:
    """A net that says 0 when the left half is brighter: its mirror view says 1, and the mean favours class 2."""
    from torch.utils.data import TensorDataset

    tfc = _script()

    class LeftRight(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            d = torch.sign(x[..., :24].mean((1, 2, 3)) - x[..., 24:].mean((1, 2, 3)))
            return torch.stack([2 * d, -2 * d, torch.full_like(d, 1.7)], 1)

    faces = torch.zeros(3, 3, 48, 48)
    faces[:2, ..., :24] = 1.0  # left half bright
    data = TensorDataset(faces, torch.tensor([2, 0, 2]))
    # single view: [2, -2, 1.7] -> class 0 for the two half-bright faces, [0, 0, 1.7] -> 2 for the flat one;
    # with the mirror: softmax sums e^2 + e^-2 = 7.52 for classes 0 and 1 against 2 e^1.7 = 10.95 for class 2
    single, labels = tfc.evaluate(LeftRight(), data)
    assert single.tolist() == [0, 0, 2] and labels.tolist() == [2, 0, 2]
    flipped, _ = tfc.evaluate(LeftRight(), data, flip=True)
    assert flipped.tolist() == [2, 2, 2]


def test_erase_fills_the_box_with_the_mean() -> None:
    tfc = _script()
    x = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    out = tfc.erase(x, torch.tensor([[1, 2, 3], [0, 0, 0]]))
    expected = x.clone()
    expected[0, :, 1:4, 2:5] = x[0].mean()
    assert torch.equal(out, expected)
    # the strong augmentation: seeded, and it keeps values within the input's range
    a = tfc._augment_strong(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, tfc._augment_strong(x, torch.Generator().manual_seed(3)))
    assert a.shape == x.shape and a.min() >= x.min() - 1e-6 and a.max() <= x.max() + 1e-6


def test_checkpoint_of_another_augmentation_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in CLASSES:
            (tmp_path / "fer" / split / c).mkdir(parents=True)
            PIL.Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(tmp_path / "fer" / split / c / "0.png")
    cmd = [sys.executable, str(SCRIPT), "--data", str(tmp_path / "fer"), "--output", str(tmp_path / "out"),
           "--epochs", "1", "--batch-size", "4", "--limit", "7", "--threads", "1"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([*cmd, "--augment", "strong"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--augment strong" in json.loads(done.stdout[done.stdout.index("{"):])["command"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)  # crop-flip: another recipe
    assert again.returncode != 0 and "'augment': 'strong'" in again.stderr
    # a batch larger than the training set (7 faces) would train nothing: a usage error naming the option
    small = subprocess.run([*cmd, "--batch-size", "8", "--output", str(tmp_path / "small")], capture_output=True,
                           text=True, timeout=300, env=env)
    assert small.returncode == 2 and "`--batch-size` expected at most the 7 training faces, got 8" in small.stderr
    assert not (tmp_path / "small").exists()
