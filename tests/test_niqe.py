from __future__ import annotations

import numpy as np
import pytest
import torch

from llenhance.data import read_image
from llenhance.niqe import _imresize_half, niqe
from tests.conftest import shared_data


class TestNIQE:
    def test_matlab_reference_value(self) -> None:
        # MATLAB R2021a on BasicSR's baboon.png (Y channel, no border crop, 96x96 blocks).
        image = read_image(shared_data("niqe", "baboon.png")).float() / 255
        assert niqe(image) == pytest.approx(5.72957338, abs=1e-3)

    def test_blur_scores_worse(self) -> None:
        image = read_image(shared_data("niqe", "baboon.png")).float()[None] / 255
        blurred = torch.nn.functional.avg_pool2d(image, 9, stride=1, padding=4, count_include_pad=False)
        assert niqe(blurred) > niqe(image) + 0.5

    def test_imresize_half_of_constant_and_ramp(self) -> None:
        np.testing.assert_allclose(_imresize_half(np.full((8, 6), 3.0)), np.full((4, 3), 3.0))
        # Away from the borders a linear ramp stays linear: the average of each pixel pair.
        ramp = np.tile(np.arange(16, dtype=np.float64), (16, 1))
        half = _imresize_half(ramp)
        np.testing.assert_allclose(half[4, 2:6], [4.5, 6.5, 8.5, 10.5])

    def test_exception(self) -> None:
        # E06b: fewer than two 96x96 blocks (one block gives no covariance, SVD failed); E06c: a flat image
        for shape in ((3, 64, 200), (3, 128, 128), (3, 191, 191)):
            with pytest.raises(ValueError, match=r"at least two blocks of 96x96 pixels for NIQE \(e.g. 192x96\)"):
                niqe(torch.rand(shape))
        assert np.isfinite(niqe(torch.rand(3, 192, 96)))
        for size in (192, 300):
            with pytest.raises(ValueError, match=r"too little texture for NIQE.*flat"):
                niqe(torch.zeros(3, size, size))
        with pytest.raises(ValueError, match="one image, got a batch of 2"):
            niqe(torch.rand(2, 3, 96, 96))
        with pytest.raises(TypeError, match="`image` expected a floating point"):
            niqe(torch.zeros(3, 96, 96, dtype=torch.uint8))
