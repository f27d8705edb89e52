from __future__ import annotations

import json
from pathlib import Path


import pytest
import torch
from safetensors.torch import load_file, save_file

from llenhance import Enhancer, LLENet, list_pretrained, llenet_b, llenet_s
from llenhance.models import CRBlock, FEBlock, exposure_curve, match_exposure
from llenhance.models.exposure import log_exposure


_PIPELINE = ("curve_target", "exposure_gate", "output_target", "luma_only")


def _tiny(**kwargs: object) -> Enhancer:
    """A tiny new network in an Enhancer; exposure settings and architecture keywords both accepted."""
    pipeline = {k: kwargs.pop(k) for k in _PIPELINE if k in kwargs}
    return Enhancer({"width": 4, "mlp_ratio": 2, **kwargs}, **pipeline)  # type: ignore[arg-type]


class TestLLENet:
    def test_smoke(self) -> None:
        net = _tiny().eval()
        out = net(torch.rand(2, 3, 16, 16))
        assert out.shape == (2, 3, 16, 16)
        assert out.dtype == torch.float32

    @pytest.mark.parametrize("factory", [llenet_s, llenet_b], ids=["s", "b"])
    @pytest.mark.parametrize("hw", [(1, 1), (5, 3), (7, 9), (13, 17), (31, 1), (33, 47)])
    def test_named_sizes_keep_shape(self, factory, hw: tuple[int, int]) -> None:
        net = factory().eval()
        with torch.no_grad():
            out = net(torch.rand(1, 3, *hw))
        assert out.shape == (1, 3, *hw)

    def test_unbatched(self) -> None:
        net = _tiny().eval()
        x = torch.rand(3, 11, 9)
        with torch.no_grad():
            out = net(x)
            batched = net(x.unsqueeze(0))
        assert out.shape == (3, 11, 9)
        torch.testing.assert_close(out, batched[0])

    def test_clamped_in_eval_only(self) -> None:
        net = LLENet(width=4, mlp_ratio=2)  # the network alone, as the paper has it
        # Push every output far above 1 through the last layer's bias.
        last = net.reconstruct[-2]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.constant_(last.bias, 5.0)
        x = torch.rand(1, 3, 8, 8)
        assert torch.all(net.train()(x) == 5.0)
        assert torch.all(net.eval()(x) == 1.0)

    def test_ablation_switches_change_parameters(self) -> None:
        counts = {
            (fe, skip): sum(p.numel() for p in _tiny(use_fe=fe, use_skip=skip).parameters())
            for fe in (False, True)
            for skip in (False, True)
        }
        assert len(set(counts.values())) == 4
        assert counts[(True, True)] > counts[(True, False)] > counts[(False, False)]
        assert counts[(True, True)] > counts[(False, True)] > counts[(False, False)]
        # FE blocks and skip fusions exist exactly when switched on.
        net = LLENet(width=4, use_fe=False, use_skip=True)
        assert all(stage.fe is None and stage.fuse is not None for stage in net.decoder)

    def test_small_size_is_cheaper(self) -> None:
        small = sum(p.numel() for p in llenet_s().parameters())
        base = sum(p.numel() for p in llenet_b().parameters())
        assert small < base / 4

    def test_gradcheck(self) -> None:
        net = _tiny().double().train()
        x = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-4, fast_mode=True)

    def test_gradients_reach_every_parameter(self) -> None:
        net = _tiny().train()
        net(torch.rand(2, 3, 16, 16)).mean().backward()
        missing = [n for n, p in net.named_parameters() if p.grad is None]
        assert not missing

    @pytest.mark.parametrize(
        ("x", "error", "match"),
        [
            (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), TypeError, "`x` expected a floating point"),
            (torch.rand(1, 1, 8, 8), ValueError, "`x` expected 3 channels"),
            (torch.rand(1, 3, 8, 8) * 255, ValueError, r"`x` expected values in \[0, 1\]"),
            (torch.rand(8, 8), ValueError, "`x` expected shape"),
        ],
    )
    def test_exception(self, x: torch.Tensor, error: type, match: str) -> None:
        with pytest.raises(error, match=match):
            _tiny()(x)

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"width": 7}, ValueError, "`width` expected an even number"),
            ({"width": 0}, ValueError, "`width` expected an int >= 1"),
            ({"width": 8.0}, TypeError, "`width` expected an int"),
            ({"stem_stride": 3}, ValueError, "`stem_stride` expected 1 or 2"),
            ({"use_fe": 1}, TypeError, "`use_fe` expected a bool"),
            ({"curve_target": 1.0}, ValueError, r"`curve_target` expected a mean grey level in \(0, 1\)"),
            ({"curve_target": 0}, ValueError, "`curve_target` expected a mean grey level"),
            ({"curve_target": "0.4"}, TypeError, "`curve_target` expected None or a number"),
        ],
    )
    def test_bad_config(self, kwargs: dict, error: type, match: str) -> None:
        with pytest.raises(error, match=match):
            _tiny(**kwargs)

    def test_config_is_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            LLENet(16)  # type: ignore[misc]


class TestBlocks:
    def test_cr_block_is_residual(self) -> None:
        block = CRBlock(8)
        torch.nn.init.zeros_(block.fuse.weight)
        torch.nn.init.zeros_(block.fuse.bias)
        x = torch.randn(2, 8, 5, 5)
        torch.testing.assert_close(block(x), x)

    def test_cr_block_splits_halves(self) -> None:
        # Eq. 1-3: the first half goes only through the ConvNeXt branch, the second
        # only through the residual branch.
        block = CRBlock(8).eval()
        x = torch.randn(1, 8, 6, 6)
        y = x.clone()
        y[:, 4:] += 1.0
        with torch.no_grad():
            z1x, z1y = block.convnext(x[:, :4]), block.convnext(y[:, :4])
        torch.testing.assert_close(z1x, z1y)

    def test_cr_block_odd_width(self) -> None:
        with pytest.raises(ValueError, match="`channels` expected an even number, got 5"):
            CRBlock(5)

    def test_fe_block_is_residual_and_keeps_width(self) -> None:
        for depthwise in (False, True):
            block = FEBlock(6, depthwise=depthwise)
            x = torch.randn(2, 6, 9, 9)
            assert block(x).shape == x.shape
            torch.nn.init.zeros_(block.project.weight)
            torch.nn.init.zeros_(block.project.bias)
            torch.testing.assert_close(block(x), x)

    def test_fe_block_kernel_sizes(self) -> None:
        block = FEBlock(4)
        assert [b.kernel_size for b in block.branches] == [(3, 3), (5, 5), (7, 7)]
        assert FEBlock(4, depthwise=True).branches[2].groups == 4


class TestSaveLoad:
    def test_round_trip(self, tmp_path: Path) -> None:
        net = llenet_s(use_skip=False).eval()
        net.save_pretrained(tmp_path)
        assert (tmp_path / "model.safetensors").is_file()
        config = json.loads((tmp_path / "config.json").read_text())
        network = config["network"]  # nested: the architecture, beside the exposure settings
        assert network["width"] == 16 and network["stem_stride"] == 2 and network["use_skip"] is False
        assert set(config) == {"network", "curve_target", "exposure_gate", "output_target", "luma_only"}
        loaded = Enhancer.from_pretrained(tmp_path).eval()
        x = torch.rand(1, 3, 21, 19)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)

    def test_missing_key_is_an_error(self, tmp_path: Path) -> None:
        _tiny().save_pretrained(tmp_path)
        state = load_file(tmp_path / "model.safetensors")
        state.pop("stem.1.weight")
        save_file(state, tmp_path / "model.safetensors")
        with pytest.raises(RuntimeError, match="stem.1.weight"):
            Enhancer.from_pretrained(tmp_path)

    def test_unexpected_key_is_an_error(self, tmp_path: Path) -> None:
        _tiny().save_pretrained(tmp_path)
        state = load_file(tmp_path / "model.safetensors")
        state["extra.weight"] = torch.zeros(1)
        save_file(state, tmp_path / "model.safetensors")
        with pytest.raises(RuntimeError, match="extra.weight"):
            Enhancer.from_pretrained(tmp_path)

    def test_subnormal_weights_are_flushed(self, tmp_path: Path) -> None:
        net = _tiny()
        with torch.no_grad():
            net.network.stem[1].weight[0, 0] = 1e-42  # subnormal in float32
        net.save_pretrained(tmp_path)
        loaded = Enhancer.from_pretrained(tmp_path)
        assert loaded.network.stem[1].weight[0, 0].item() == 0.0
        torch.testing.assert_close(loaded.network.stem[1].weight[1:], net.network.stem[1].weight[1:])


class TestExposureCurve:
    def test_closed_form(self) -> None:
        # grey images: the curve maps the mean grey level m to the target exactly (m ** (log t / log m) = t)
        x = torch.tensor([0.02, 0.1, 0.3]).view(3, 1, 1, 1).expand(3, 3, 4, 4)
        out = exposure_curve(x, 0.45)
        torch.testing.assert_close(out, torch.full_like(x, 0.45))
        # a colour image: exponent from the Rec. 601 luma mean, applied to every channel
        img = torch.rand(1, 3, 5, 6) * 0.2
        luma = 0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]
        g = torch.log(torch.tensor(0.4)) / torch.log(luma.mean())
        torch.testing.assert_close(exposure_curve(img, 0.4), img ** g)

    def test_never_darkens(self) -> None:
        bright = torch.rand(2, 3, 8, 8) * 0.5 + 0.5  # mean ~0.75 > target
        assert torch.equal(exposure_curve(bright, 0.45), bright)
        mixed = torch.cat([bright[:1], bright[1:] * 0.1])
        out = exposure_curve(mixed, 0.45)
        assert torch.equal(out[0], mixed[0]) and bool((out[1] >= mixed[1]).all())

    def test_black_image_is_finite(self) -> None:
        x = torch.zeros(1, 3, 4, 4, requires_grad=True)
        out = exposure_curve(x, 0.45)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


class TestCurveLLENet:
    def test_untrained_is_the_curve(self) -> None:
        net = _tiny(curve_target=0.45).eval()
        x = torch.rand(2, 3, 16, 16) * 0.2
        torch.testing.assert_close(net(x), exposure_curve(x, 0.45))

    def test_correction_on_top_of_the_curve(self) -> None:
        torch.manual_seed(0)
        net = _tiny(curve_target=0.45)
        torch.nn.init.normal_(net.network.reconstruct[-2].weight, std=0.1)
        net.eval()
        x = torch.rand(1, 3, 16, 16) * 0.2
        plain = _tiny()  # same network without the curve: its output is the correction alone
        plain.load_state_dict(net.state_dict())
        plain.train()  # no clamp
        with torch.no_grad():
            base = exposure_curve(x, 0.45)
            expected = (base + plain(base)).clamp(0, 1)
            torch.testing.assert_close(net(x), expected)
            torch.testing.assert_close(net.corrected(net.curve(x), None).clamp(0, 1), expected)
            torch.testing.assert_close(net.network.train()(base), plain(base))  # the network alone

    def test_exposure_input_starts_ignored_then_tells_exposures_apart(self) -> None:
        torch.manual_seed(0)
        net = _tiny(curve_target=0.45, exposure_input=True)
        x = torch.rand(2, 3, 16, 16) * 0.2
        with torch.no_grad():
            torch.testing.assert_close(net.eval()(x), exposure_curve(x, 0.45))  # untrained: the curve
            torch.nn.init.normal_(net.network.reconstruct[-2].weight, std=0.1)
            torch.nn.init.normal_(net.network.exposure.weight, std=1.0)
            # the network's input: log of the uncurved image's mean Rec. 601 grey, one per image
            luma = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean(dim=(1, 2))
            torch.testing.assert_close(log_exposure(x), luma.log())
            # two flat greys the curve maps to the same image (0.45) get different outputs
            dim, dimmer = torch.full((1, 3, 16, 16), 0.1), torch.full((1, 3, 16, 16), 0.05)
            torch.testing.assert_close(exposure_curve(dim, 0.45), exposure_curve(dimmer, 0.45))
            assert (net(dim) - net(dimmer)).abs().max() > 1e-3
            net.network.exposure.weight.zero_()
            torch.testing.assert_close(net(dim), net(dimmer))
            torch.nn.init.normal_(net.network.exposure.weight, std=1.0)
            # the same weights without the exposure input: the stem bias is the only difference
            plain = _tiny(curve_target=0.45).eval()
            plain.load_state_dict({k: v for k, v in net.state_dict().items()
                                   if not k.startswith("network.exposure.")})
            torch.nn.init.zeros_(net.network.exposure.weight)
            torch.testing.assert_close(net(x), plain(x))
            # the network alone on curved input must be told the uncurved image's exposure
            with pytest.raises(ValueError, match="`exposure` expected the log_exposure of the input"):
                net.network.run(exposure_curve(x, 0.45))

    def test_round_trip_keeps_the_exposure_input(self, tmp_path: Path) -> None:
        net = _tiny(curve_target=0.4, exposure_input=True)
        torch.nn.init.normal_(net.network.exposure.weight)
        net.save_pretrained(tmp_path)
        assert json.loads((tmp_path / "config.json").read_text())["network"]["exposure_input"] is True
        loaded = Enhancer.from_pretrained(tmp_path)
        torch.testing.assert_close(loaded.network.exposure.weight, net.network.exposure.weight)

    def test_round_trip_keeps_the_curve(self, tmp_path: Path) -> None:
        net = _tiny(curve_target=0.4)
        net.save_pretrained(tmp_path)
        assert json.loads((tmp_path / "config.json").read_text())["curve_target"] == 0.4
        assert Enhancer.from_pretrained(tmp_path).curve_target == 0.4


def _at_grey(level: float, size: int = 16) -> torch.Tensor:
    """A random (1, 3, size, size) image scaled so that its mean Rec. 601 grey level is ``level``."""
    x = torch.rand(1, 3, size, size) * 0.5 + 0.25
    luma = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean()
    return x * (level / luma)


class TestExposureGate:
    def test_share_is_linear_in_stops_between_the_levels(self) -> None:
        net = _tiny(exposure_gate=(0.2, 0.4))
        levels = [0.05, 0.2, 0.2 * 2**0.5, 0.4, 0.7]  # 0.2 * sqrt(2): half a stop of the one between
        shares = torch.cat([net.exposure_share(_at_grey(v)) for v in levels])
        torch.testing.assert_close(shares, torch.tensor([1.0, 1.0, 0.5, 0.0, 0.0]))
        assert torch.equal(_tiny().exposure_share(_at_grey(0.7)), torch.ones(1))  # no gate: all of it

    def test_gate_blends_with_the_input_per_image(self) -> None:
        torch.manual_seed(0)
        gated = _tiny(exposure_gate=(0.2, 0.4)).eval()
        plain = _tiny().eval()
        plain.load_state_dict(gated.state_dict())
        x = torch.cat([_at_grey(0.1), _at_grey(0.2 * 2**0.5), _at_grey(0.5)])
        with torch.no_grad():
            y = plain(x)
            out = gated(x)
        torch.testing.assert_close(out[0], y[0])  # dark: the network's output
        torch.testing.assert_close(out[1], 0.5 * x[1] + 0.5 * y[1])  # in between: half of its change
        assert torch.equal(out[2], x[2])  # well lit: the input, exactly
        torch.testing.assert_close(gated(x[1]), out[1])  # unbatched

    def test_round_trip_and_bad_values(self, tmp_path: Path) -> None:
        net = _tiny(exposure_gate=(0.2, 0.35))
        net.save_pretrained(tmp_path)
        assert json.loads((tmp_path / "config.json").read_text())["exposure_gate"] == [0.2, 0.35]
        assert Enhancer.from_pretrained(tmp_path).exposure_gate == (0.2, 0.35)
        with pytest.raises(ValueError, match=r"`exposure_gate` expected 0 < low < high < 1"):
            _tiny(exposure_gate=(0.4, 0.2))
        with pytest.raises(TypeError, match=r"`exposure_gate` expected None or two mean grey levels"):
            _tiny(exposure_gate=0.3)  # type: ignore[arg-type]


class TestOutputTarget:
    def test_match_exposure_is_the_gamma_of_the_mean(self) -> None:
        x = torch.cat([_at_grey(0.1), _at_grey(0.6)])
        out = match_exposure(x, 0.4)
        for i, level in enumerate((0.1, 0.6)):  # x ** (log 0.4 / log mean), brightening and darkening
            gamma = torch.log(torch.tensor(0.4)) / torch.log(torch.tensor(level))
            torch.testing.assert_close(out[i], x[i].clamp_min(1e-6) ** gamma)
        flat = torch.full((2, 3, 4, 4), 0.3)  # a flat image lands on the target exactly, one per image
        torch.testing.assert_close(match_exposure(flat, torch.tensor([0.5, 0.2])),
                                   torch.stack([torch.full((3, 4, 4), 0.5), torch.full((3, 4, 4), 0.2)]))
        black = torch.zeros(1, 3, 4, 4, requires_grad=True)
        match_exposure(black, 0.4).sum().backward()
        assert torch.isfinite(black.grad).all()

    def test_training_outputs_above_one_near_white_stay_finite(self) -> None:
        """A network in training mode is not clamped: a near-white crop whose raw output exceeds 1 gets a gamma
        in the hundreds (mean clamped to 0.999); 1.01 ** 900 overflowed, and the gate's blend made NaN of it."""
        from llenhance.models.exposure import gamma_to_exposure

        raw = torch.full((1, 3, 8, 8), 1.01, requires_grad=True)
        out = gamma_to_exposure(raw, 0.4)  # gamma = log 0.4 / log 0.999, about 916
        assert torch.isfinite(out).all() and float(out.max()) <= 1.0
        out.sum().backward()
        assert torch.isfinite(raw.grad).all()
        net = _tiny(output_target=0.4, exposure_gate=(0.2, 0.35)).train()
        white = torch.full((1, 3, 16, 16), 0.9999)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05)  # push the raw output above 1
        assert torch.isfinite(net(white)).all()

    def test_match_exposure_names_bad_arguments(self) -> None:
        x = _at_grey(0.2)
        for target, error, match in ((1.5, ValueError, r"`target` expected a mean grey level in \(0, 1\), got 1.5"),
                                     (None, TypeError, r"`target` expected a number in \(0, 1\)"),
                                     (torch.tensor([0.3, 0.4]), ValueError, r"`target` expected one level per image"),
                                     (torch.tensor([0.0]), ValueError, r"`target` expected mean grey levels in")):
            with pytest.raises(error, match=match):
                match_exposure(x, target)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"`x`"):
            match_exposure(x * 10, 0.4)  # values above 1

    def test_output_goes_to_the_target_before_the_gate(self) -> None:
        torch.manual_seed(0)
        net = _tiny(curve_target=0.3, output_target=0.45, exposure_gate=(0.2, 0.4)).eval()
        for module in net.network.reconstruct[-2:-1]:  # a non-zero correction, so the network's own output matters
            torch.nn.init.normal_(module.weight, std=0.1)
        plain = _tiny(curve_target=0.3).eval()
        plain.load_state_dict(net.state_dict())
        x = torch.cat([_at_grey(0.1), _at_grey(0.2 * 2**0.5), _at_grey(0.5)])
        with torch.no_grad():
            y = match_exposure(plain(x), 0.45)
            out = net(x)
        torch.testing.assert_close(out[0], y[0])
        torch.testing.assert_close(out[1], 0.5 * x[1] + 0.5 * y[1])
        assert torch.equal(out[2], x[2])  # the gate still passes a well-lit image exactly
        torch.testing.assert_close(net(x[0]), out[0])  # unbatched

    def test_round_trip_and_bad_values(self, tmp_path: Path) -> None:
        net = _tiny(output_target=0.4)
        net.save_pretrained(tmp_path)
        assert json.loads((tmp_path / "config.json").read_text())["output_target"] == 0.4
        assert Enhancer.from_pretrained(tmp_path).output_target == 0.4
        assert Enhancer.from_pretrained(tmp_path, output_target=None).output_target is None
        with pytest.raises(ValueError, match=r"`output_target` expected a mean grey level in \(0, 1\)"):
            _tiny(output_target=1.5)
        with pytest.raises(TypeError, match=r"`output_target` expected None or a number"):
            _tiny(output_target="0.4")  # type: ignore[arg-type]


def test_configs_of_earlier_versions_load_and_a_removed_option_is_named(tmp_path: Path) -> None:
    """``log_curve`` (a learned curve that never shipped) is gone: configs that say it is off still load."""
    torch.manual_seed(0)
    net = Enhancer({"width": 8}).eval()
    net.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "log_curve" not in config
    config = {**config.pop("network"), **config}  # flat, as before 0.4
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "log_curve": False}))
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(Enhancer.from_pretrained(tmp_path / "m").eval()(x), net(x))
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "log_curve": True}))
    with pytest.raises(ValueError, match="sets `log_curve` to True: that option was removed"):
        Enhancer.from_pretrained(tmp_path / "m")
    with pytest.raises(TypeError):
        LLENet(width=8, log_curve=False)


@pytest.mark.parametrize("name", sorted(list_pretrained()))
def test_builtin_weights_compile_to_one_graph(name: str) -> None:
    """torch.compile captures each built-in enhancer whole (fullgraph: no graph break), so that mode
    "reduce-overhead" can replay it as one CUDA graph; value checks stay on and are skipped inside the
    graph. aot_eager: the capture and autograd tracing without a C++ build; output as in eager mode."""
    model = Enhancer.from_pretrained(name).eval()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    x = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(0)) * 0.3
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=0, atol=1e-6)


class TestNetworkAndEnhancer:
    """LLENet is the network (architecture arguments only); Enhancer composes the exposure handling around it."""

    def test_network_takes_its_architecture_only(self) -> None:
        import inspect

        arguments = [p for p in inspect.signature(LLENet.__init__).parameters if p != "self"]
        assert arguments == ["width", "use_fe", "use_skip", "fe_depthwise", "mlp_ratio", "stem_stride",
                             "exposure_input"]
        assert LLENet(width=8).config == {"width": 8, "use_fe": True, "use_skip": True, "fe_depthwise": False,
                                          "mlp_ratio": 4, "stem_stride": 1, "exposure_input": False}

    def test_a_network_passed_in_keeps_its_weights(self) -> None:
        torch.manual_seed(0)
        network = LLENet(width=4, mlp_ratio=2)
        before = {k: v.clone() for k, v in network.state_dict().items()}
        enhancer = Enhancer(network, curve_target=0.45)
        assert enhancer.network is network
        assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())
        # a network built from its architecture starts as the curve (zero correction)
        assert not Enhancer({"width": 4}, curve_target=0.45).network.reconstruct[-2].weight.any()
        with pytest.raises(TypeError, match="`network` expected an LLENet or its architecture as a dict"):
            Enhancer(torch.nn.Identity())  # type: ignore[arg-type]

    def test_old_constructor_and_loader_still_work_with_a_warning(self) -> None:
        torch.manual_seed(0)
        with pytest.warns(DeprecationWarning, match=r"LLENet\(curve_target=\.\.\., luma_only=\.\.\.\) is deprecated"):
            old = LLENet(width=4, mlp_ratio=2, curve_target=0.4, luma_only=True)
        assert isinstance(old, Enhancer)
        assert old.config == _tiny(curve_target=0.4, luma_only=True).config
        assert not old.network.reconstruct[-2].weight.any()  # new, with a curve: starts as the curve
        new = _tiny(curve_target=0.4, luma_only=True)
        new.load_state_dict(old.state_dict())
        x = torch.rand(1, 3, 16, 16) * 0.2
        with torch.no_grad():
            assert torch.equal(old.eval()(x), new.eval()(x))
        with pytest.warns(DeprecationWarning, match="LLENet.from_pretrained is deprecated"):
            loaded = LLENet.from_pretrained("llenet-faces")
        assert isinstance(loaded, Enhancer) and loaded.config == Enhancer.from_pretrained("llenet-faces").config

    def test_checkpoints_of_earlier_versions_load(self) -> None:
        """State dicts saved before 0.4 hold the network's tensors without the ``network.`` prefix."""
        torch.manual_seed(0)
        net = _tiny(curve_target=0.4)
        flat = {k.removeprefix("network."): v for k, v in net.state_dict().items()}
        again = _tiny(curve_target=0.4)
        again.load_state_dict(flat)
        assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), net.state_dict().values()))

    @pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
    def test_both_config_layouts_load(self, tmp_path: Path, nested: bool) -> None:
        torch.manual_seed(0)
        net = _tiny(curve_target=0.4, exposure_gate=(0.2, 0.35), exposure_input=True).eval()
        net.save_pretrained(tmp_path)
        config = json.loads((tmp_path / "config.json").read_text())
        if not nested:
            flat = dict(config)
            (tmp_path / "config.json").write_text(json.dumps({**flat.pop("network"), **flat}))
        loaded = Enhancer.from_pretrained(tmp_path)
        assert loaded.config == net.config
        x = torch.rand(1, 3, 16, 16) * 0.2
        with torch.no_grad():
            assert torch.equal(loaded(x), net(x))
        (tmp_path / "config.json").write_text(json.dumps({**config, "network": {**config["network"], "depth": 3}}))
        with pytest.raises(ValueError, match=r"unknown keys \['network.depth'\]"):
            Enhancer.from_pretrained(tmp_path)


def test_builtin_outputs_are_those_of_0_3() -> None:
    """Every built-in gives, on fixed inputs (untiled, tiled, unbatched-free batches of 1 and 2, a 5x7 image), the
    outputs that llenhance 0.3.x gave, to the bit: ``tests/reference/builtin_outputs_0.3.pt`` was written by
    ``LLENet.from_pretrained(name)`` and ``enhance(x, model, tile=64, overlap=8)`` of that version, whose flat
    class held the network and the exposure handling together (float32, CPU)."""
    from llenhance import enhance

    reference = torch.load(Path(__file__).parents[1] / "reference" / "builtin_outputs_0.3.pt")
    assert {key.split("/")[0] for key in reference["outputs"]} == set(list_pretrained())
    for key, expected in reference["outputs"].items():
        name, case = key.split("/")
        model = Enhancer.from_pretrained(name)
        with torch.no_grad():
            if case == "tiled":
                got = enhance(reference["tiled_input"], model, tile=64, overlap=8)
            else:
                got = model(reference["inputs"][case])
        assert (got - expected).abs().max().item() == 0, key
