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
