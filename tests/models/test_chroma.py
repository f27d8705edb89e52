"""carry_chroma / ChromaCarry and the luma_only LLENet (the built-in llenet-faces)."""

from __future__ import annotations

import math

import kornia
import pytest
import torch

from llenhance import Enhancer
from llenhance.models.chroma import CHROMA_EPS, SATURATION_POWER, ChromaCarry, carry_chroma, chroma_sigma

LUMA = torch.tensor([0.299, 0.587, 0.114])


def _flat(rgb: tuple[float, float, float], size: int = 9) -> torch.Tensor:
    return torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, size, size).contiguous()


def _hue(x: torch.Tensor) -> torch.Tensor:
    """HSV hue in radians, kornia's."""
    return kornia.color.rgb_to_hsv(x)[:, 0]


def _angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Smallest absolute difference of two angles."""
    d = (a - b) % (2 * math.pi)
    return torch.minimum(d, 2 * math.pi - d)


class TestCarryChroma:
    def test_grey_input_gives_exactly_grey_output(self) -> None:
        torch.manual_seed(0)
        grey = torch.rand(2, 1, 20, 30).expand(-1, 3, -1, -1)
        out = carry_chroma(grey, torch.rand(2, 1, 20, 30))
        assert (out - out[:, :1]).abs().max().item() == 0.0

    def test_closed_form_on_a_flat_colour(self) -> None:
        rgb, level = (0.20, 0.10, 0.05), 0.5
        out = carry_chroma(_flat(rgb), torch.full((1, 1, 9, 9), level))
        y = sum(w * c for w, c in zip(LUMA.tolist(), rgb))
        e = math.log(level) / math.log(y)
        expected = [level * (1 + e**SATURATION_POWER * ((c + CHROMA_EPS) / (y + CHROMA_EPS) - 1)) for c in rgb]
        torch.testing.assert_close(out[0, :, 4, 4], torch.tensor(expected), rtol=1e-5, atol=1e-6)

    def test_output_luma_is_the_given_luma_in_gamut(self) -> None:
        torch.manual_seed(1)
        image = 0.1 + 0.2 * torch.rand(1, 3, 16, 16)
        level = 0.2 + 0.3 * torch.rand(1, 1, 16, 16)
        out = carry_chroma(image, level)
        torch.testing.assert_close((out * LUMA.view(1, 3, 1, 1)).sum(1, keepdim=True), level, rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("rgb", [(0.30, 0.12, 0.05), (0.05, 0.25, 0.10), (0.12, 0.08, 0.30)])
    def test_hue_kept_and_a_hue_rotation_rotates_the_output(self, rgb: tuple[float, float, float]) -> None:
        image = _flat(rgb)
        rotated = image.roll(1, dims=1)  # R->G, G->B, B->R: the hue turns by 120 degrees
        for x in (image, rotated):
            out = carry_chroma(x, torch.full((1, 1, 9, 9), 0.6))
            assert _angle(_hue(out), _hue(x)).max().item() < 1e-4
        out, out_rotated = (carry_chroma(x, torch.full((1, 1, 9, 9), 0.6)) for x in (image, rotated))
        assert _angle(_hue(out_rotated) - _hue(out), torch.tensor(2 * math.pi / 3)).max().item() < 1e-4

    def test_a_colour_out_of_gamut_is_pulled_to_grey_with_its_hue(self) -> None:
        image = _flat((0.6, 0.05, 0.05))  # a saturated red, lifted to luma 0.9
        out = carry_chroma(image, torch.full((1, 1, 9, 9), 0.9))
        assert out.max().item() <= 1.0 and out[0, 0, 4, 4] > out[0, 1, 4, 4]
        assert _angle(_hue(out), _hue(image)).max().item() < 1e-4

    def test_unchanged_levels_keep_the_colour(self) -> None:
        image = _flat((0.5, 0.3, 0.2))
        level = (image * LUMA.view(1, 3, 1, 1)).sum(1, keepdim=True)
        torch.testing.assert_close(carry_chroma(image, level), image, rtol=1e-2, atol=2e-3)

    def test_unbatched_and_three_channel_luma(self) -> None:
        image = torch.rand(3, 8, 8)
        level = torch.rand(1, 8, 8)
        out = carry_chroma(image, level.expand(3, -1, -1))
        torch.testing.assert_close(out, carry_chroma(image[None], level[None])[0])

    def test_function_equals_module(self) -> None:
        image, level = torch.rand(2, 3, 12, 12), torch.rand(2, 1, 12, 12)
        torch.testing.assert_close(ChromaCarry(sigma=2.0)(image, level), carry_chroma(image, level, sigma=2.0))

    def test_default_blur_follows_the_size(self) -> None:
        assert chroma_sigma(48, 48) == 1.0 and chroma_sigma(256, 640) == 4.0

    def test_bad_input(self) -> None:
        with pytest.raises(ValueError, match="`luma` expected shape"):
            carry_chroma(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 9))
        with pytest.raises(ValueError, match="`sigma` expected"):
            carry_chroma(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8), sigma=-1.0)
        with pytest.raises(ValueError, match="`image`"):
            carry_chroma(torch.rand(1, 4, 8, 8), torch.rand(1, 1, 8, 8))

    def test_gradcheck(self) -> None:
        image = (0.1 + 0.5 * torch.rand(1, 3, 5, 5, dtype=torch.float64)).requires_grad_()
        level = (0.2 + 0.3 * torch.rand(1, 1, 5, 5, dtype=torch.float64)).requires_grad_()
        assert torch.autograd.gradcheck(lambda a, b: carry_chroma(a, b, sigma=1.0), (image, level))


@pytest.fixture(scope="module")
def faces() -> Enhancer:
    return Enhancer.from_pretrained("llenet-faces").eval()


class TestLumaOnlyNetwork:
    def test_builtin_faces_carry_the_colour(self, faces: Enhancer) -> None:
        assert faces.luma_only

    def test_grey_faces_stay_exactly_grey(self, faces: Enhancer) -> None:
        torch.manual_seed(2)
        grey = (0.15 * torch.rand(2, 1, 48, 48)).expand(-1, 3, -1, -1)
        with torch.no_grad():
            out = faces(grey)
        assert (out - out[:, :1]).abs().max().item() == 0.0
        assert out.mean() > 2 * grey.mean()  # and brightened

    def test_the_network_sees_only_the_luma(self, faces: Enhancer) -> None:
        """Two inputs of one luma get one output luma: the network's; the colour comes from the input."""
        torch.manual_seed(3)
        image = 0.05 + 0.1 * torch.rand(1, 3, 32, 32)
        grey = (image * LUMA.view(1, 3, 1, 1)).sum(1, keepdim=True).expand(-1, 3, -1, -1)
        with torch.no_grad():
            out, out_grey = faces(image), faces(grey)
        torch.testing.assert_close((out * LUMA.view(1, 3, 1, 1)).sum(1), out_grey[:, 0], rtol=0, atol=2e-3)

    def test_hue_of_a_flat_colour_kept(self, faces: Enhancer) -> None:
        image = _flat((0.12, 0.06, 0.03), size=32)
        with torch.no_grad():
            out = faces(image)
        assert _angle(_hue(out), _hue(image)).max().item() < 1e-3
        assert out.mean() > image.mean()

    def test_the_grey_output_network_stays_loadable(self, faces: Enhancer) -> None:
        old = Enhancer.from_pretrained("llenet-faces-0.3").eval()
        assert not old.luma_only
        image = _flat((0.12, 0.06, 0.03), size=32)
        with torch.no_grad():
            grey_out, colour_out = old(image), faces(image)
        chroma = lambda x: kornia.color.rgb_to_lab(x)[:, 1:].norm(dim=1).mean()  # noqa: E731
        assert chroma(colour_out) > 3 * chroma(grey_out)

    def test_round_trips_through_save_pretrained(self, tmp_path: object) -> None:
        net = Enhancer({"width": 4}, luma_only=True, curve_target=0.4).eval()
        net.save_pretrained(tmp_path)
        again = Enhancer.from_pretrained(tmp_path).eval()
        x = torch.rand(1, 3, 16, 16) * 0.3
        assert again.luma_only
        torch.testing.assert_close(again(x), net(x))

    def test_tiled_enhance_carries_the_colour_of_the_whole_image(self, faces: Enhancer) -> None:
        from llenhance import enhance

        torch.manual_seed(4)
        image = 0.2 * torch.rand(3, 40, 56)
        grey = (image * LUMA.view(3, 1, 1)).sum(0, keepdim=True).expand(3, -1, -1)
        old = Enhancer.from_pretrained("llenet-faces", luma_only=False).eval()  # the same network, no colour step
        # the network's receptive field is cut at tile borders (as for every LLENet): the colour adds no
        # difference of its own
        cut = (enhance(grey, enhancer=old) - enhance(grey, enhancer=old, tile=32, overlap=8)).abs().mean()
        whole, tiled = enhance(image, enhancer=faces), enhance(image, enhancer=faces, tile=32, overlap=8)
        assert (whole - tiled).abs().mean() < 1.2 * cut
        assert (tiled - tiled[:1]).abs().max() > 0.01  # colour out

    def test_rejects_a_non_bool(self) -> None:
        with pytest.raises(TypeError, match="`luma_only` expected a bool"):
            Enhancer({"width": 4}, luma_only=1)  # type: ignore[arg-type]
