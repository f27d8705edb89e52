from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from llenhance import ClassifierPreprocess, EnhancedClassifier, llenet_s, wrap
from tests.test_classifier import _TupleNet


@pytest.fixture(scope="module")
def enhancer() -> torch.nn.Module:
    torch.manual_seed(0)
    return llenet_s()


class TestWrap:
    def test_resnet18(self, enhancer: torch.nn.Module) -> None:
        classifier = torchvision.models.resnet18(num_classes=7)
        model = wrap(classifier, enhancer)
        assert isinstance(model, EnhancedClassifier)
        assert model.enhancer is enhancer and model.classifier is classifier
        assert not model.training and not classifier.training
        x = torch.rand(2, 3, 64, 64) * 0.2
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        with torch.no_grad():
            torch.testing.assert_close(model(x), classifier((enhancer(x) - mean) / std))

    def test_grayscale_48_tuple_model(self, enhancer: torch.nn.Module) -> None:
        net = _TupleNet().eval()
        model = wrap(net, enhancer, preprocess=ClassifierPreprocess(size=48, grayscale=True, mean=(0.5,), std=(0.5,)))
        with torch.no_grad():
            logits, emb = model(torch.rand(3, 3, 96, 80))
        assert logits.shape == (3, 7) and emb.shape == (3, 8)

    def test_default_enhancer_is_the_face_enhancer(self) -> None:
        from llenhance import DEFAULT_FACE_WEIGHTS, Enhancer

        model = wrap(torchvision.models.resnet18(num_classes=7))
        assert DEFAULT_FACE_WEIGHTS == "llenet-faces"
        assert isinstance(model.enhancer, Enhancer) and model.enhancer.curve_target == 0.45
        reference = Enhancer.from_pretrained("llenet-faces")
        for (name, a), b in zip(model.enhancer.state_dict().items(), reference.state_dict().values()):
            assert torch.equal(a, b), name
        # well-lit grey input (mean grey above the curve's target, the domain it was trained on: grayscale faces)
        # passes nearly unchanged, even pixel noise; real faces: test_face_weights_denoise_real_dark_faces
        bright = (torch.rand(2, 1, 48, 48) * 0.4 + 0.45).expand(-1, 3, -1, -1)
        with torch.no_grad():
            assert (model.enhancer(bright) - bright).abs().mean() < 0.01

    def test_torch_compile(self, enhancer: torch.nn.Module) -> None:
        model = wrap(torchvision.models.resnet18(num_classes=7), enhancer)
        compiled = torch.compile(model, backend="eager")
        x = torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), model(x))

    def test_compiles_to_one_graph_and_still_checks_eagerly(self) -> None:
        """The default wrapper (llenet-faces, ResNet-18) is one graph for torch.compile (its first-call
        output check stays out of the graph); run eagerly, the check still catches a 0-255 enhancer."""
        model = wrap(torchvision.models.resnet18(num_classes=7))
        compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
        x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0)) * 0.2
        with torch.no_grad():
            out = compiled(x)
            assert not model._output_checked  # the compiled call skipped it
            torch.testing.assert_close(out, model(x), rtol=0, atol=1e-5)
            assert model._output_checked

        class Times255(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * 255

        scaled = wrap(torchvision.models.resnet18(num_classes=7), Times255())
        with torch.no_grad(), pytest.raises(ValueError, match="`enhancer` returned values in"):
            scaled(x)

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="`classifier` expected an nn.Module, got str"):
            EnhancedClassifier(classifier="resnet", enhancer=llenet_s())  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="`classifier` expected an nn.Module, got NoneType"):
            EnhancedClassifier(enhancer=llenet_s())
        with pytest.raises(TypeError, match="expected classifier= and enhancer= by name"):
            EnhancedClassifier(llenet_s(), classifier=torch.nn.Identity())

    def test_arguments_in_wraps_order_and_the_old_positional_order_with_a_warning(self) -> None:
        enhancer, classifier = llenet_s(), torchvision.models.resnet18(num_classes=7)
        named = EnhancedClassifier(classifier=classifier, enhancer=enhancer)
        assert named.classifier is classifier and named.enhancer is enhancer
        preprocess = ClassifierPreprocess(size=48)
        with pytest.warns(DeprecationWarning, match=r"EnhancedClassifier\(enhancer, classifier, preprocess\) by position"):
            old = EnhancedClassifier(enhancer, classifier, preprocess)
        assert old.classifier is classifier and old.enhancer is enhancer and old.preprocess is preprocess
        with pytest.warns(DeprecationWarning):
            assert EnhancedClassifier(enhancer, classifier).classifier is classifier


def test_timm_model(enhancer: torch.nn.Module) -> None:
    timm = pytest.importorskip("timm")
    net = timm.create_model("resnet18", num_classes=7, pretrained=False)
    cfg = timm.data.resolve_data_config({}, model=net)
    model = wrap(net, enhancer, preprocess=ClassifierPreprocess(mean=cfg["mean"], std=cfg["std"]))
    with torch.no_grad():
        assert model(torch.rand(2, 3, 64, 64) * 0.2).shape == (2, 7)


def test_face_weights_denoise_real_dark_faces() -> None:
    """On real FER2013 val faces darkened with sensor noise, llenet-faces removes much of the noise that the
    global gamma curve (same mean grey target) amplifies: 48 faces, 22.9 dB against 16.2 dB when these weights
    were made (the one-stage weights before them: 22.0); a 2x2-folded network trained the same way for 4000
    iterations reached 20.8. Well-lit faces pass nearly unchanged."""
    from llenhance import Enhancer, LowLightSynth
    from llenhance.baselines import global_gamma
    from llenhance.data import FERFolder
    from llenhance.metrics import psnr
    from tests.conftest import shared_data

    faces = FERFolder(shared_data("fer2013", "val"))
    clean = torch.stack([faces[i][0] for i in range(0, len(faces), len(faces) // 48)][:48])
    dark = LowLightSynth(noise=True, quantize=True)(clean.clone())  # a batch: one random darkening per face
    net = Enhancer.from_pretrained("llenet-faces").eval()
    with torch.no_grad():
        enhanced, passed = net(dark).clamp(0, 1), net(clean).clamp(0, 1)
    gamma = global_gamma(dark, target=0.45)
    assert float(psnr(enhanced, clean).mean()) > float(psnr(gamma, clean).mean()) + 4.5
    # well lit: the brighten-only curve leaves faces at or above 0.45 alone, the correction adds little
    bright = clean.mean((1, 2, 3)) >= 0.45
    assert bright.sum() >= 5
    assert float((passed[bright] - clean[bright]).abs().mean()) < 0.02


class TestInputChannels:
    """A grey classifier behind colour preprocessing (or the reverse) is refused by name, not at the first batch."""

    def test_grey_classifier_behind_rgb_preprocessing(self) -> None:
        from torch import nn

        from llenhance import wrap
        from llenhance.classifier import ClassifierPreprocess, FrozenClassifier

        grey = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 7))
        with pytest.raises(ValueError, match=r"takes 1 input channel\(s\) \(its first convolution, 0\), but "
                                             r"`preprocess` gives it 3 \(RGB\); use ClassifierPreprocess\(grayscale=True"):
            wrap(grey, "llenet-faces")
        with pytest.raises(ValueError, match="takes 1 input channel"):
            FrozenClassifier(grey)
        model = wrap(grey, "llenet-faces", ClassifierPreprocess(grayscale=True, mean=(0.5,), std=(0.5,)))
        assert model(torch.rand(2, 3, 32, 32) * 0.2).shape == (2, 7)

    def test_rgb_classifier_behind_grey_preprocessing(self) -> None:
        import torchvision

        from llenhance.classifier import ClassifierPreprocess, FrozenClassifier

        with pytest.raises(ValueError, match=r"takes 3 input channel\(s\) \(its first convolution, conv1\).*"
                                             r"grayscale=False"):
            FrozenClassifier(torchvision.models.resnet18(num_classes=7),
                             preprocess=ClassifierPreprocess(grayscale=True, mean=(0.5,), std=(0.5,)))


def test_preprocess_settings_as_a_dict_are_refused_when_wrapping() -> None:
    """R09b: a dict of settings is refused by wrap() and FrozenClassifier, not at the first forward."""
    import torchvision

    from llenhance import wrap
    from llenhance.classifier import FrozenClassifier

    net = torchvision.models.resnet18(num_classes=7)
    with pytest.raises(TypeError, match=r"`preprocess` expected a module or callable .* got a dict; "
                                        r"pass ClassifierPreprocess\(\*\*settings\)"):
        wrap(net, "llenet-faces", dict(size=48))
    with pytest.raises(TypeError, match=r"`preprocess` expected .* got a str"):
        FrozenClassifier(net, preprocess="imagenet")
    halves = wrap(net, "llenet-faces", lambda x: x * 0.5)  # any callable will do
    assert halves(torch.rand(1, 3, 32, 32)).shape == (1, 7)
