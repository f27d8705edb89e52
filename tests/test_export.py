from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from llenhance import LLENet
from llenhance.cli import main
from llenhance.data import PairedImageFolder
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def real_image() -> torch.Tensor:
    low, _ = PairedImageFolder(shared_data("sice", "val"))[3]
    return low[None, :, :300, :437].contiguous()  # odd sizes: the graph must pad and crop


def test_onnx_matches_pytorch_on_real_image(tmp_path: Path, real_image: torch.Tensor) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "llenet.onnx"
    assert main(["export", "--format", "onnx", "--output", str(path)]) == 0
    session = ort.InferenceSession(str(path))
    model = LLENet.from_pretrained("llenet-sice").eval()
    for image in (real_image, real_image[..., :128, :200]):
        out = session.run(None, {"image": image.numpy()})[0]
        with torch.no_grad():
            ref = model(image).numpy()
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)


def test_torchscript_matches_pytorch_on_real_image(tmp_path: Path, real_image: torch.Tensor) -> None:
    path = tmp_path / "llenet.pt"
    assert main(["export", "--format", "torchscript", "--output", str(path)]) == 0
    scripted = torch.jit.load(str(path))
    model = LLENet.from_pretrained("llenet-sice").eval()
    with torch.no_grad():
        torch.testing.assert_close(scripted(real_image), model(real_image), atol=1e-4, rtol=0)
    assert not list(tmp_path.glob(".llenhance-*"))
