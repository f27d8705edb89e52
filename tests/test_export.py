from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from llenhance import DEFAULT_WEIGHTS, Enhancer
from llenhance.models.exposure import log_exposure
from llenhance.cli import main
from llenhance.data import PairedImageFolder
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def real_image() -> torch.Tensor:
    low, _ = PairedImageFolder(shared_data("sice", "val"))[3]
    return low[None, :, :300, :437].contiguous()  # odd sizes: the graph must pad and crop



def _at_share(model: Enhancer, image: torch.Tensor, share: float) -> torch.Tensor:
    """``image`` brightened so that ``model``'s exposure gate lets ``share`` of the change through."""
    low, high = model.exposure_gate
    level = high * (low / high) ** share if share > 0 else high * 1.2
    out = (image * level / float(log_exposure(image).exp())).clamp(0, 1)
    got = float(model.exposure_share(out))  # clipping moves it a little
    assert got == 0 if share == 0 else 0.2 < got < 0.8, got
    return out

def test_onnx_matches_pytorch_on_real_image(tmp_path: Path, real_image: torch.Tensor) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "llenet.onnx"
    assert main(["export", "--format", "onnx", "--output", str(path)]) == 0
    session = ort.InferenceSession(str(path))
    model = Enhancer.from_pretrained(DEFAULT_WEIGHTS).eval()  # what `export` exports by default
    # dark (the full change), in the gate's band (part of it) and well lit (none): the gate is in the graph
    for image in (real_image, real_image[..., :128, :200], _at_share(model, real_image, 0.5), _at_share(model, real_image, 0)):
        out = session.run(None, {"image": image.numpy()})[0]
        with torch.no_grad():
            ref = model(image).numpy()
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)


def test_torchscript_matches_pytorch_on_real_image(tmp_path: Path, real_image: torch.Tensor) -> None:
    path = tmp_path / "llenet.pt"
    assert main(["export", "--format", "torchscript", "--output", str(path)]) == 0
    scripted = torch.jit.load(str(path))
    model = Enhancer.from_pretrained(DEFAULT_WEIGHTS).eval()
    with torch.no_grad():
        for image in (real_image, _at_share(model, real_image, 0.5), _at_share(model, real_image, 0)):
            torch.testing.assert_close(scripted(image), model(image), atol=1e-4, rtol=0)
    assert not list(tmp_path.glob(".llenhance-*"))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_face_weights_export_with_their_colour(tmp_path: Path, fmt: str) -> None:
    """llenet-faces (luma network, colour carried) exports; at the traced size the graph keeps the colour."""
    from llenhance.models.chroma import chroma_sigma

    torch.manual_seed(0)
    image = (0.05 + 0.2 * torch.rand(1, 3, 48, 48)) * torch.tensor([1.0, 0.7, 0.4]).view(1, 3, 1, 1)
    path = tmp_path / f"faces.{'onnx' if fmt == 'onnx' else 'pt'}"
    assert main(["export", "--weights", "llenet-faces", "--format", fmt, "--output", str(path)]) == 0
    model = Enhancer.from_pretrained("llenet-faces").eval()
    with torch.no_grad():
        ref = model(image)
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        out = torch.from_numpy(ort.InferenceSession(str(path)).run(None, {"image": image.numpy()})[0])
    else:
        out = torch.jit.load(str(path))(image)
    assert chroma_sigma(48, 48) == 1.0  # the blur the graph was traced with serves this size
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)
    assert (out[:, 0] - out[:, 2]).mean() > 0.02  # colour out, not grey


@pytest.mark.parametrize("opset", ["3", "99"])
def test_R10_opset_out_of_range_is_one_clear_line(tmp_path: Path, opset: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "onnx", "--opset", opset, "--output", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert f"`opset` (--opset) expected an int in [11, 20], got {opset}" in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()
