from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _baselines as baselines  # noqa: E402

from llenhance.data import PairedImageFolder  # noqa: E402
from tests.conftest import shared_data  # noqa: E402


def test_auto_gamma_hits_target_luminance() -> None:
    x = torch.full((1, 3, 4, 4), 0.1)
    out = baselines.global_gamma(x)
    # gamma = log 0.5 / log 0.1; 0.1 ** gamma = 0.5
    torch.testing.assert_close(out, torch.full_like(x, 0.5))
    assert math.isclose(baselines.global_gamma(torch.full((1, 3, 2, 2), 0.5)).mean().item(), 0.5, rel_tol=1e-6)


def test_classical_keep_shape_and_range() -> None:
    x = torch.rand(2, 3, 32, 32) * 0.3
    for fn in (baselines.histogram_equalization, baselines.clahe, baselines.identity):
        out = fn(x)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", ["zero-dce", "sci"])
def test_peer_models_brighten_a_real_dark_image(name: str) -> None:
    shared_data("weights")
    model = baselines.load_zero_dce() if name == "zero-dce" else baselines.load_sci("medium")
    low, high = PairedImageFolder(shared_data("sice", "val"))[0]
    with torch.no_grad():
        out = model(low[None, :, :128, :128])
    assert out.min() >= 0 and out.max() <= 1
    assert out.mean() > 2 * low[:, :128, :128].mean()


def test_zero_dce_subnormals_are_flushed() -> None:
    shared_data("weights")
    model = baselines.load_zero_dce()
    tiny = torch.finfo(torch.float32).tiny
    assert all(((p.abs() >= tiny) | (p == 0)).all() for p in model.parameters())
