from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from llenhance import Enhancer, enhance, llenet_s
from llenhance.metrics import psnr
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return llenet_s().eval()


def _tiled_and_own_tile(net: torch.nn.Module) -> tuple[float, float]:
    """PSNR against the untiled output of a 64x80 dark image with a brighter top half: tiled (48, overlap 8),
    and the top-left 48x48 tile run on its own (what per-tile statistics would give)."""
    x = torch.rand(1, 3, 64, 80) * 0.1
    x[..., :32, :] *= 3
    full = enhance(x, net)
    tiled = psnr(enhance(x, net, tile=48, overlap=8), full).item()
    with torch.no_grad():
        own = psnr(net(x[..., :48, :48]), full[..., :48, :48]).item()
    return tiled, own


class TestEnhance:
    def test_tensor_in_tensor_out(self, net: torch.nn.Module) -> None:
        x = torch.rand(2, 3, 20, 28, dtype=torch.float64) * 0.2
        out = enhance(x, net, batch_size=1)
        assert out.shape == x.shape and out.dtype == torch.float64
        with torch.no_grad():
            torch.testing.assert_close(out, net(x.float()).double())
        single = enhance(x[0], net)
        assert single.shape == (3, 20, 28)

    def test_palette_image_comes_back_as_a_palette_image(self, net: torch.nn.Module) -> None:
        """I01d: a P-mode image (no transparency) keeps its mode, with a palette fitted to the enhanced colours."""
        rgb = PIL.Image.fromarray((np.random.default_rng(1).random((20, 30, 3)) * 60).astype(np.uint8))
        palette = rgb.quantize(colors=64)
        out = enhance(palette, net)
        assert out.mode == "P" and out.size == palette.size
        expected = np.asarray(enhance(palette.convert("RGB"), net), dtype=np.float64)
        assert np.abs(np.asarray(out.convert("RGB"), dtype=np.float64) - expected).mean() < 6  # 256 colours

    def test_pil_in_pil_out(self, net: torch.nn.Module) -> None:
        img = PIL.Image.fromarray((np.random.default_rng(0).random((20, 30, 3)) * 60).astype(np.uint8))
        out = enhance(img, net)
        assert isinstance(out, PIL.Image.Image) and out.size == (30, 20) and out.mode == "RGB"
        gray = enhance(img.convert("L"), net)
        assert gray.mode == "L" and gray.size == (30, 20)

    def test_numpy_in_numpy_out(self, net: torch.nn.Module) -> None:
        array = (np.random.default_rng(1).random((17, 19, 3)) * 50).astype(np.uint8)
        out = enhance(array, net)
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (17, 19, 3)
        with torch.no_grad():
            ref = net(torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255)[0]
        np.testing.assert_array_equal(out, (ref.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))

    def test_list(self, net: torch.nn.Module) -> None:
        outs = enhance([torch.rand(3, 8, 8), np.zeros((5, 6, 3), np.uint8)], net)
        assert isinstance(outs, list) and outs[0].shape == (3, 8, 8) and outs[1].shape == (5, 6, 3)

    def test_list_of_one_size_runs_in_batches(self, net: torch.nn.Module) -> None:
        rng = np.random.default_rng(2)
        sizes = [(20, 30), (20, 30), (24, 16), (20, 30), (20, 30)]
        images = [PIL.Image.fromarray((rng.random((h, w, 3)) * 60).astype(np.uint8)) for h, w in sizes]
        images[1] = torch.rand(3, 20, 30) * 0.2  # a tensor between PIL images of its size joins their batch
        calls: list[int] = []
        hook = net.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape[0]))
        try:
            batched = enhance(images, net, batch_size=2)
            assert calls == [2, 1, 2]  # consecutive images of one size, at most 2 at a time, in order
            calls.clear()
            single = enhance(images, net, batch_size=1)
            assert calls == [1] * 5
            calls.clear()
            enhance(images, net, batch_size=4, max_pixels=2 * 20 * 30)  # the pixel budget caps a batch at 2 images
            assert calls == [2, 1, 2]
        finally:
            hook.remove()
        torch.testing.assert_close(batched[1], single[1], atol=1e-6, rtol=0)
        assert batched[1].shape == (3, 20, 30)
        for i in (0, 2, 3, 4):
            a, b = np.asarray(batched[i], np.int16), np.asarray(single[i], np.int16)
            assert batched[i].size == images[i].size and np.abs(a - b).max() <= 1

    def test_default_weights(self) -> None:
        out = enhance(torch.rand(3, 16, 16) * 0.1)
        assert out.shape == (3, 16, 16)

    def test_default_weights_leave_well_lit_images_alone(self) -> None:
        # llenet-photo's exposure gate: mean grey 0.35 or more passes unchanged, 0.2 or less gets the full change
        well_lit = torch.rand(3, 32, 32) * 0.4 + 0.3
        assert torch.equal(enhance(well_lit), well_lit)
        dark = torch.rand(3, 32, 32) * 0.2  # mean grey about 0.1: the full change, brighter
        ungated = Enhancer.from_pretrained("llenet-photo", exposure_gate=None).eval()
        with torch.no_grad():
            torch.testing.assert_close(enhance(dark), ungated(dark))
        assert float(enhance(dark).mean()) > 2 * float(dark.mean())

    def test_tiles_cover_and_match_small_case(self, net: torch.nn.Module) -> None:
        x = torch.rand(1, 3, 40, 50) * 0.3
        # A tile larger than the image is the untiled path.
        torch.testing.assert_close(enhance(x, net, tile=64, overlap=16), enhance(x, net))
        tiled = enhance(x, net, tile=48, overlap=8)
        assert tiled.shape == x.shape and torch.isfinite(tiled).all()

    def test_tiled_curve_model_uses_the_whole_image(self) -> None:
        # a curve model's exponent comes from the whole image's mean, not each tile's
        from llenhance import llenet_s

        torch.manual_seed(0)
        net = llenet_s(curve_target=0.45)
        torch.nn.init.normal_(net.network.reconstruct[-2].weight, std=0.02)
        net.eval()
        x = torch.rand(1, 3, 64, 80) * 0.1
        x[..., :32, :] *= 3  # a brighter top half: per-tile means would differ
        full = enhance(x, net)
        tiled = enhance(x, net, tile=48, overlap=8)
        assert psnr(tiled, full).item() >= 40.0

    @pytest.mark.parametrize("curve_target", [0.45, None])
    def test_tiled_exposure_input_uses_the_whole_image(self, curve_target: float | None) -> None:
        # the exposure input is the whole image's mean grey; each tile's own would differ
        from llenhance import llenet_s

        torch.manual_seed(0)
        net = llenet_s(curve_target=curve_target, exposure_input=True)
        torch.nn.init.normal_(net.network.reconstruct[-2].weight, std=0.02)
        torch.nn.init.constant_(net.network.reconstruct[-2].bias, 0.0 if curve_target else 0.3)  # not all clamped to 0
        torch.nn.init.normal_(net.network.exposure.weight, std=1.0)
        tiled, own = _tiled_and_own_tile(net.eval())
        assert tiled >= 60.0 and own < tiled - 10, (tiled, own)

    def test_tiled_exposure_gate_uses_the_whole_image(self) -> None:
        # the gate's share comes from the whole image's mean grey level, not each tile's
        from llenhance import llenet_s

        torch.manual_seed(0)
        net = llenet_s(exposure_gate=(0.1, 0.4)).eval()
        x = torch.rand(1, 3, 64, 80) * 0.4 + 0.2
        x[..., :32, :] *= 0.2  # a dark top half: its tiles alone would get all of the change, the others none
        share = net.exposure_share(x)
        assert 0.2 < share.item() < 0.8
        full = enhance(x, net)
        assert psnr(enhance(x, net, tile=48, overlap=8), full).item() >= 40.0
        with torch.no_grad():
            plain = net.network(x)  # the network alone (no curve): what the gate blends in
        torch.testing.assert_close(full, x + share * (plain - x))

    def test_tiled_output_target_uses_the_whole_image(self) -> None:
        # the output exposure is set on the assembled image, not tile by tile
        from llenhance import llenet_s
        from llenhance.models import match_exposure

        torch.manual_seed(0)
        net = llenet_s(curve_target=0.3, output_target=0.45).eval()
        x = torch.rand(1, 3, 64, 80) * 0.2
        x[..., :32, :] *= 0.2
        full = enhance(x, net)
        with torch.no_grad():
            torch.testing.assert_close(full, match_exposure(net.corrected(net.curve(x), None).clamp(0, 1), 0.45))
        assert psnr(enhance(x, net, tile=48, overlap=8), full).item() >= 40.0

    def test_well_lit_images_skip_the_network(self) -> None:
        # a gated model whose gate passes every image of a batch is not run at all; the input comes back
        from llenhance import llenet_s

        net = llenet_s(exposure_gate=(0.1, 0.3)).eval()
        calls = []
        net.network.stem.register_forward_hook(lambda *_: calls.append(1))
        bright = torch.rand(2, 3, 48, 64) * 0.4 + 0.5
        for kwargs in ({}, {"tile": 32, "overlap": 0}):
            assert torch.equal(enhance(bright, net, **kwargs), bright)
        assert not calls
        mixed = torch.cat([bright[:1], bright[1:] * 0.1])  # one dark image: the batch goes through the network
        out = enhance(mixed, net)
        assert calls and torch.equal(out[0], mixed[0]) and not torch.equal(out[1], mixed[1])

    def test_tiled_matches_untiled_on_real_1024(self) -> None:
        low, _ = _real_pair()
        big = torch.nn.functional.interpolate(low, size=(1024, 1024), mode="bilinear").clamp(0, 1)
        full = enhance(big)
        tiled = enhance(big, tile=512, overlap=128)
        assert psnr(tiled, full).item() >= 45.0

    @pytest.mark.parametrize(
        ("images", "kwargs", "error", "match"),
        [
            (torch.zeros(3, 8, 8, dtype=torch.uint8), {}, TypeError, r"`images` expected a floating point"),
            ([torch.rand(3, 8, 8), torch.zeros(3, 8, 8, dtype=torch.uint8)], {}, TypeError,
             r"`images\[1\]` expected a floating point"),
            (np.zeros((8, 8, 3), np.float32), {}, TypeError, r"expected a uint8 \(H, W, 3\) RGB array"),
            ("image.png", {}, TypeError, "expected a torch.Tensor, a PIL image or a uint8 numpy array"),
            (torch.rand(3, 8, 8), {"tile": 16, "overlap": 8}, ValueError, r"`overlap` expected an int in \[0, tile // 2\)"),
            (torch.rand(3, 8, 8), {"tile": 0}, ValueError, "`tile` expected an int >= 1"),
            ([], {}, ValueError, "at least one image"),
        ],
    )
    def test_exception(self, net: torch.nn.Module, images: object, kwargs: dict, error: type, match: str) -> None:
        with pytest.raises(error, match=match):
            enhance(images, net, **kwargs)


def _real_pair() -> tuple[torch.Tensor, torch.Tensor]:
    from llenhance.data import PairedImageFolder

    low, high = PairedImageFolder(shared_data("sice", "val"))[0]
    return low[None], high[None]


def test_large_images_are_tiled_automatically(net: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    import llenhance.inference as inference

    monkeypatch.setattr(inference, "AUTO_TILE", 48)
    x = torch.rand(1, 3, 64, 96) * 0.2
    auto = enhance(x, net, overlap=8, max_pixels=64 * 96 - 1)  # one pixel over the budget
    torch.testing.assert_close(auto, enhance(x, net, tile=48, overlap=8), rtol=0, atol=0)
    assert not torch.equal(auto, enhance(x, net, max_pixels=None))  # tiles differ slightly at their borders
    torch.testing.assert_close(enhance(x, net, max_pixels=64 * 96), enhance(x, net, max_pixels=None))
    with pytest.raises(ValueError, match="`max_pixels` expected an int >= 1"):
        enhance(x, net, max_pixels=0)


class TestNeverMutates:
    """enhance() and wrap() leave users' modules and the shared built-in weights as they were."""

    def test_wrap_gets_its_own_copy(self) -> None:
        x = torch.rand(1, 3, 24, 24) * 0.2
        before = enhance(x)
        from llenhance import wrap

        wrapped = wrap(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(7)))
        with torch.no_grad():
            for p in wrapped.enhancer.parameters():
                p.add_(0.5)  # "fine-tuning" the wrapped enhancer
        wrapped.enhancer.half()
        torch.testing.assert_close(enhance(x), before)

    def test_user_module_keeps_its_mode(self, net: torch.nn.Module) -> None:
        net.train()
        try:
            x = torch.rand(2, 3, 16, 16) * 0.2
            out = enhance(x, net)
            assert net.training  # put back
            net.eval()
            with torch.no_grad():
                torch.testing.assert_close(out, net(x))  # and it ran in eval mode (clamped output)
        finally:
            net.eval()

    @pytest.mark.parametrize(("tile", "overlap"), [(4, 0), (8, 0), (32, 8)])
    def test_too_small_tiles_are_refused(self, net: torch.nn.Module, tile: int, overlap: int) -> None:
        with pytest.raises(ValueError, match=r"`tile` expected at least (16|48) for this model"):
            enhance(torch.rand(1, 3, 40, 40), net, tile=tile, overlap=overlap)

    @pytest.mark.parametrize(
        ("enhancer", "match"),
        [
            (torch.nn.Conv2d(3, 1, 1), r"returned shape \(1, 1, 8, 8\) for an input of shape \(1, 3, 8, 8\)"),
            (lambda: _Scale(255.0), r"returned values in \[1\d\d\.?\d*, 2\d\d\.?\d*\]; an enhancer must return images in \[0, 1\]"),
        ],
        ids=["one-channel", "0-255"],
    )
    def test_wrong_enhancer_output(self, enhancer: object, match: str) -> None:
        from llenhance import wrap

        module = enhancer() if callable(enhancer) and not isinstance(enhancer, torch.nn.Module) else enhancer
        x = torch.rand(1, 3, 8, 8) * 0.5 + 0.5
        with pytest.raises(ValueError, match="`enhancer` " + match):
            enhance(x, module)
        with pytest.raises(ValueError, match="`enhancer` " + match):
            wrap(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(7)), module)(x)


class _Scale(torch.nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def test_amp_needs_cuda() -> None:
    from llenhance import llenet_s

    with pytest.raises(ValueError, match="`amp` expected a CUDA `device`"):
        enhance(torch.rand(3, 16, 16), llenet_s(), device="cpu", amp=True)
    with pytest.raises(TypeError, match="`amp` expected a bool"):
        enhance(torch.rand(3, 16, 16), llenet_s(), amp="yes")
    # the name before 0.4 still works, with a warning
    with pytest.warns(DeprecationWarning, match="`half` is deprecated since llenhance 0.4: it is now `amp`"), \
            pytest.raises(ValueError, match="`amp` expected a CUDA `device`"):
        enhance(torch.rand(3, 16, 16), llenet_s(), device="cpu", half=True)
    x = torch.rand(3, 16, 16) * 0.2
    with pytest.warns(DeprecationWarning):
        assert torch.equal(enhance(x, "llenet-sice", half=False), enhance(x, "llenet-sice"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bfloat16 inference runs on CUDA")
def test_half_on_cuda_is_close_to_float32() -> None:
    net = Enhancer.from_pretrained("llenet-sice").cuda()
    x = torch.rand(2, 3, 64, 64, device="cuda") * 0.3
    full, half = enhance(x, net), enhance(x, net, amp=True)
    assert half.dtype == torch.float32 and half.device == x.device
    assert (full - half).abs().mean() < 0.01


def test_strength_blends_input_and_output() -> None:
    x = torch.rand(2, 3, 24, 20) * 0.2
    net = llenet_s(curve_target=0.45).eval()
    full = enhance(x, net)
    torch.testing.assert_close(enhance(x, net, strength=0.0), x)
    torch.testing.assert_close(enhance(x, net, strength=0.25), x + 0.25 * (full - x))
    with pytest.raises(ValueError, match=r"`strength` expected a value in \[0, 1\], got 1.5"):
        enhance(x, net, strength=1.5)


def test_enhance_from_several_threads_matches_one_thread() -> None:
    """A15b/A15d: 4 threads x 5 tiled and untiled calls on the shared built-in give the single-thread results,
    and a user's module in train mode is in train mode again after concurrent calls."""
    from concurrent.futures import ThreadPoolExecutor

    from llenhance import LLENet

    torch.manual_seed(0)
    images = [torch.rand(3, 96, 120) * 0.2 for _ in range(4)]
    alone = {(i, t): enhance(images[i], "llenet-faces", tile=t, overlap=8) for i in range(4) for t in (48, None)}

    def work(i: int) -> list[bool]:
        return [torch.equal(enhance(images[i], "llenet-faces", tile=t, overlap=8), alone[i, t])
                for _ in range(5) for t in (48, None)]

    with ThreadPoolExecutor(4) as pool:
        assert all(all(same) for same in pool.map(work, range(4)))
    mine = LLENet(width=4).train()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: enhance(images[i], mine), [0, 1, 2, 3] * 3))
    assert mine.training


def test_outputs_are_ordinary_tensors_and_odd_pil_modes_work(net: torch.nn.Module) -> None:
    """A11b/c: the output can be changed in place and used in a graph; A21b: premultiplied "La" images;
    I03: NaN pixels of a float image are blamed on the image, not on the model."""
    import numpy as np
    import PIL.Image

    x = torch.rand(1, 3, 16, 16) * 0.2
    out = enhance(x, net)
    reference = out.clone()
    out += 0.01  # in place: an inference tensor refused this
    torch.testing.assert_close(out, reference + 0.01)
    weight = torch.nn.Parameter(torch.ones(1))
    (enhance(x, net) * weight).sum().backward()
    torch.testing.assert_close(weight.grad, reference.sum().reshape(1))
    la = PIL.Image.new("LA", (16, 16), (30, 200)).convert("La")
    back = enhance(la, net)
    assert back.mode == "LA" and back.size == (16, 16) and back.getchannel("A").getextrema() == (200, 200)
    bad = np.full((16, 16), 0.1, np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match=r"\(F image\) holds NaN or infinite pixels \(1 of them\)"):
        enhance(PIL.Image.fromarray(bad, mode="F"), net)


def test_enhancer_argument_and_its_old_name() -> None:
    """``enhance(images, enhancer)``: the keyword of earlier versions, ``model=``, still works, with a warning."""
    x = torch.rand(3, 24, 20) * 0.2
    assert torch.equal(enhance(x, enhancer="llenet-sice"), enhance(x, "llenet-sice"))
    with pytest.warns(DeprecationWarning, match="`model` is deprecated since llenhance 0.4: it is now `enhancer`"):
        assert torch.equal(enhance(x, model="llenet-sice"), enhance(x, "llenet-sice"))
    assert not torch.equal(enhance(x, "llenet-sice"), enhance(x))  # the default is other weights: the name was used
    with pytest.raises(TypeError, match="`enhancer` expected an nn.Module, a weights name or None, got int"):
        enhance(x, 3)
