from __future__ import annotations

import re

import numpy as np
import PIL.Image
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from llenhance import LowLightSynth, add_sensor_noise, synthesize_low_light


class TestSynthesizeLowLight:
    def test_formula(self) -> None:
        x = torch.rand(3, 5, 6, dtype=torch.float64)
        ref = 0.7 * (0.95 * x.numpy()) ** 2.5
        np.testing.assert_allclose(synthesize_low_light(x, 0.95, 0.7, 2.5).numpy(), ref, rtol=1e-12)

    def test_per_image_parameters(self) -> None:
        x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
        out = synthesize_low_light(x, torch.tensor([1.0, 0.9]), torch.tensor([0.5, 1.0]), torch.tensor([2.0, 3.0]))
        torch.testing.assert_close(out[0], 0.5 * x[0] ** 2)
        torch.testing.assert_close(out[1], (0.9 * x[1]) ** 3)

    def test_any_channel_count(self) -> None:
        assert synthesize_low_light(torch.rand(1, 1, 4, 4), 1.0, 1.0, 2.0).shape == (1, 1, 4, 4)

    def test_gradcheck(self) -> None:
        x = (0.1 + 0.8 * torch.rand(1, 3, 3, 3, dtype=torch.float64)).requires_grad_()
        assert torch.autograd.gradcheck(lambda t: synthesize_low_light(t, 0.9, 0.8, 2.0), (x,))

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"alpha": 1.5}, "`alpha` expected values <= 1"),
            ({"beta": 0.0}, "`beta` expected finite values > 0"),
            ({"gamma": -2.0}, "`gamma` expected finite values > 0"),
            ({"gamma": torch.ones(3)}, r"`gamma` expected a number or a tensor of shape \(2,\)"),
        ],
    )
    def test_exception(self, kwargs: dict, match: str) -> None:
        params = {"alpha": 1.0, "beta": 1.0, "gamma": 2.0} | kwargs
        with pytest.raises(ValueError, match=match):
            synthesize_low_light(torch.rand(2, 3, 4, 4), **params)

    def test_rejects_uint8(self) -> None:
        with pytest.raises(TypeError, match="`image` expected a floating point"):
            synthesize_low_light(torch.zeros(3, 4, 4, dtype=torch.uint8), 1.0, 1.0, 2.0)


class TestSensorNoise:
    def test_poisson_gaussian_moments(self) -> None:
        x = torch.full((1, 1, 1000, 1000), 0.3, dtype=torch.float64)
        out = add_sensor_noise(x, 1e-3, 0.01)
        # mean preserved; variance a * x + read^2 = 3e-4 + 1e-4
        assert out.mean().item() == pytest.approx(0.3, abs=1e-3)
        assert out.var().item() == pytest.approx(4e-4, rel=0.03)

    def test_quantize(self) -> None:
        out = add_sensor_noise(torch.rand(3, 8, 8), 1e-3, 0.01, quantize=True)
        torch.testing.assert_close(out * 255, torch.round(out * 255))
        assert out.min() >= 0 and out.max() <= 1

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`shot` expected > 0"):
            add_sensor_noise(torch.rand(3, 4, 4), 0.0, 0.01)


class TestLowLightSynth:
    def test_parameters_follow_paper_ranges(self) -> None:
        t = LowLightSynth()
        params = t.make_params([torch.rand(500, 3, 2, 2)])
        for name, (lo, hi) in {"alpha": (0.9, 1.0), "beta": (0.5, 1.0), "gamma": (1.5, 5.0)}.items():
            p = params[name]
            assert p.shape == (500,)
            assert lo <= p.min() and p.max() <= hi
            assert p.max() - p.min() > 0.8 * (hi - lo)  # spans the range

    def test_output_matches_formula_with_sampled_params(self) -> None:
        x = torch.rand(3, 6, 6)
        torch.manual_seed(3)
        out = LowLightSynth()(x)
        torch.manual_seed(3)
        p = LowLightSynth().make_params([x])
        torch.testing.assert_close(out, synthesize_low_light(x, p["alpha"], p["beta"], p["gamma"]))
        assert out.mean() < x.mean()

    def test_reproducible_under_seed(self) -> None:
        x = torch.rand(2, 3, 8, 8)
        t = LowLightSynth(noise=True, quantize=True)
        torch.manual_seed(7)
        a = t(x)
        torch.manual_seed(7)
        b = t(x)
        torch.manual_seed(8)
        c = t(x)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert not torch.equal(a, c)

    def test_batched_tensor_gets_one_draw_per_image(self) -> None:
        x = torch.ones(4, 3, 2, 2)
        out = LowLightSynth()(x)
        per_image = out.flatten(1)
        assert all(row.unique().numel() == 1 for row in per_image)  # same curve for R, G, B
        assert per_image[:, 0].unique().numel() == 4

    def test_only_images_change(self) -> None:
        image = tv_tensors.Image(torch.rand(3, 16, 16))
        boxes = tv_tensors.BoundingBoxes(torch.tensor([[1, 2, 8, 9]]), format="XYXY", canvas_size=(16, 16))
        mask = tv_tensors.Mask(torch.ones(16, 16, dtype=torch.uint8))
        sample = {"image": image, "boxes": boxes, "mask": mask, "label": 3}
        out = LowLightSynth()(sample)
        assert isinstance(out["image"], tv_tensors.Image)
        assert out["image"].mean() < image.mean()
        assert out["boxes"] is boxes and out["mask"] is mask and out["label"] == 3

    @pytest.mark.parametrize("mode", ["RGBA", "LA"])
    def test_alpha_is_untouched(self, mode: str) -> None:
        rng = np.random.default_rng(0)
        channels = len(mode)
        array = rng.integers(0, 256, (10, 12, channels), dtype=np.uint8)
        out = LowLightSynth(alpha=(1, 1), beta=(0.5, 0.5), gamma=(2, 2))(PIL.Image.fromarray(array, mode))
        assert out.mode == mode
        result = np.asarray(out)
        np.testing.assert_array_equal(result[..., -1], array[..., -1])  # alpha as it was
        expected = np.round(0.5 * (array[..., :-1] / 255.0) ** 2 * 255)  # Eq. 14 on the colour channels
        np.testing.assert_allclose(result[..., :-1], expected, atol=1)
        rgba = tv_tensors.Image(torch.rand(4, 6, 6))
        dark = LowLightSynth()(rgba)
        assert torch.equal(dark[3], rgba[3]) and bool((dark[:3] <= rgba[:3]).all())

    def test_video_gets_one_draw(self) -> None:
        video = tv_tensors.Video(torch.rand(2, 5, 3, 8, 8))  # 2 videos of 5 frames
        torch.manual_seed(0)
        out = LowLightSynth()(video)
        assert isinstance(out, tv_tensors.Video) and out.shape == video.shape
        torch.manual_seed(0)
        p = LowLightSynth().make_params([video])
        assert p["gamma"].shape == (2,)
        for v in range(2):  # every frame of video v follows the formula with video v's draw
            expected = synthesize_low_light(video[v].as_subclass(torch.Tensor), p["alpha"][v].item(),
                                            p["beta"][v].item(), p["gamma"][v].item())
            torch.testing.assert_close(out[v].as_subclass(torch.Tensor), expected)

    def test_pure_tensor_with_label(self) -> None:
        x = torch.rand(3, 8, 8)
        out, label = LowLightSynth()(x, 5)
        assert label == 5 and type(out) is torch.Tensor and out.mean() < x.mean()

    def test_pil_in_pil_out(self) -> None:
        img = PIL.Image.fromarray((np.random.default_rng(0).random((10, 12, 3)) * 255).astype(np.uint8))
        out = LowLightSynth()(img)
        assert isinstance(out, PIL.Image.Image) and out.size == img.size and out.mode == "RGB"
        assert np.asarray(out).mean() < np.asarray(img).mean()

    def test_grayscale_pil(self) -> None:
        img = PIL.Image.new("L", (8, 8), color=200)
        out = LowLightSynth()(img)
        assert out.mode == "L" and np.asarray(out).max() < 200

    def test_uint8_in_uint8_out(self) -> None:
        x = tv_tensors.Image(torch.full((3, 4, 4), 255, dtype=torch.uint8))
        out = LowLightSynth(alpha=(1, 1), beta=(0.5, 0.5), gamma=(2, 2))(x)
        assert out.dtype == torch.uint8
        assert abs(int(out[0, 0, 0]) - 127) <= 1

    def test_in_compose_pipeline(self) -> None:
        pipeline = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.RandomHorizontalFlip(), LowLightSynth()])
        out = pipeline(PIL.Image.new("RGB", (8, 8), color=(200, 100, 50)))
        assert out.dtype == torch.float32 and out.max() <= 200 / 255

    def test_noise_is_off_by_default(self) -> None:
        x = torch.full((3, 32, 32), 0.8)
        assert LowLightSynth()(x).unique().numel() == 1
        assert LowLightSynth(noise=True)(x).unique().numel() > 1

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"gamma": (5.0, 1.5)}, ValueError, r"`gamma` expected low <= high, got \(5.0, 1.5\) \(upside down\)"),
            ({"alpha": (0.9, 1.2)}, ValueError, r"`alpha` expected values within \[0.0, 1.0\]"),
            ({"beta": (0.0, 1.0)}, ValueError, "`beta` expected a range of values > 0"),
            ({"gamma": 2.0}, TypeError, "`gamma` expected a \\(low, high\\) pair"),
            ({"shot_noise": (0.0, 1e-3)}, ValueError, "`shot_noise` expected a range of values > 0"),
        ],
    )
    def test_exception(self, kwargs: dict, error: type, match: str) -> None:
        with pytest.raises(error, match=match):
            LowLightSynth(**kwargs)

    def test_jpeg_matches_an_independent_encoder(self) -> None:
        """The JPEG round trip at the drawn quality against OpenCV's libjpeg encoder at that quality."""
        torch.manual_seed(5)
        x = torch.rand(3, 32, 48)
        torch.manual_seed(1)
        plain = LowLightSynth(quantize=True)(x)
        torch.manual_seed(1)
        t = LowLightSynth(quantize=True, jpeg=(70, 70))
        out = t(x)
        cv2 = pytest.importorskip("cv2")
        bgr = (plain * 255).round().byte().flip(0).permute(1, 2, 0).numpy().copy()
        ok, code = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 70])
        reference = torch.from_numpy(cv2.imdecode(code, cv2.IMREAD_COLOR)).permute(2, 0, 1).flip(0) / 255
        assert ok and (out - reference).abs().mean() < 1.5 / 255  # both libjpeg; chroma subsampling may differ
        assert (out - plain).abs().mean() > 1 / 255  # and it did compress

    def test_jpeg_qualities_drawn_per_image(self) -> None:
        torch.manual_seed(0)
        params = LowLightSynth(jpeg=(60, 95)).make_params([torch.rand(500, 3, 8, 8)])
        assert params["jpeg"].shape == (500,) and params["jpeg"].min() >= 60 and params["jpeg"].max() <= 95
        assert params["jpeg"].unique().numel() == 36  # both ends included

    @pytest.mark.parametrize("jpeg", [(0, 90), (90, 60), (60.0, 90), 75, (60, 101)])
    def test_jpeg_bad_range(self, jpeg: object) -> None:
        with pytest.raises(ValueError, match="`jpeg` expected None or a range"):
            LowLightSynth(jpeg=jpeg)  # type: ignore[arg-type]

    def test_out_of_range_float_image(self) -> None:
        with pytest.raises(ValueError, match=r"`image` expected values in \[0, 1\]"):
            LowLightSynth()(torch.full((3, 4, 4), 255.0))


def test_pil_modes_and_integer_tensors() -> None:
    """S08: palette and 1-bit images are darkened as pictures (not as palette indices), high-depth PIL images
    are refused by name; S09: uint16 tensors are refused by name."""
    import PIL.Image

    palette = PIL.Image.new("RGB", (8, 8), (200, 120, 40)).convert("P")
    torch.manual_seed(0)
    dark = LowLightSynth()(palette)
    assert dark.mode == "RGB"
    r, g, b = (np.asarray(dark, dtype=np.float64)[..., i].mean() for i in range(3))
    assert r < 200 and r > g > b  # the colour darkened, its order kept
    assert LowLightSynth()(PIL.Image.new("1", (8, 8), 1)).mode == "L"
    for mode in ("I;16", "I", "F"):
        with pytest.raises(ValueError, match=rf"expected an 8-bit PIL image .* got mode '{re.escape(mode)}'"):
            LowLightSynth()(PIL.Image.new(mode, (8, 8)))
    with pytest.raises(TypeError, match=r"expected float images in \[0, 1\] or uint8 images, got torch.uint16"):
        LowLightSynth()(torch.full((3, 8, 8), 60000, dtype=torch.uint16))


def test_darkening_augmentation_mixes_named_darkenings_and_a_well_lit_share() -> None:
    from llenhance.transforms import ALPHA_RANGE, BETA_RANGE, GAMMA_RANGE, darkening_augmentation

    torch.manual_seed(0)
    t = darkening_augmentation(("paper", "realistic"), well_lit=0.25)
    v = 0.8
    flat = torch.full((3, 8, 8), v)
    kinds = {"well lit": 0, "paper": 0, "realistic": 0}
    lo = BETA_RANGE[0] * (ALPHA_RANGE[0] * v) ** GAMMA_RANGE[1]
    hi = BETA_RANGE[1] * (ALPHA_RANGE[1] * v) ** GAMMA_RANGE[0]
    for _ in range(800):
        out = t(flat)
        if torch.equal(out, flat):
            kinds["well lit"] += 1
        elif torch.equal(out, out.flatten()[0].expand_as(out)):  # Eq. 14 keeps a flat image flat
            kinds["paper"] += 1
            assert lo - 1e-6 <= float(out[0, 0, 0]) <= hi + 1e-6
        else:  # sensor noise, then 8 bits
            kinds["realistic"] += 1
            assert torch.equal(out, torch.round(out * 255) / 255)
    assert 0.20 < kinds["well lit"] / 800 < 0.30
    assert 0.33 < kinds["paper"] / 800 < 0.42 and 0.33 < kinds["realistic"] / 800 < 0.42
    assert torch.equal(darkening_augmentation(well_lit=1.0)(flat), flat)


@pytest.mark.parametrize(("kwargs", "name"), [({"darkenings": ("dusk",)}, "darkenings"),
                                              ({"darkenings": "paper"}, "darkenings"),
                                              ({"darkenings": ()}, "darkenings"),
                                              ({"well_lit": 1.5}, "well_lit"), ({"well_lit": True}, "well_lit")])
def test_darkening_augmentation_names_a_bad_argument(kwargs: dict, name: str) -> None:
    from llenhance.transforms import darkening_augmentation

    with pytest.raises(ValueError, match=f"`{name}`"):
        darkening_augmentation(**kwargs)
