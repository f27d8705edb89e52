"""llenhance.evaluation and `llenhance evaluate`, against independent references (scikit-image, hand counts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab

from llenhance.baselines import global_gamma
from llenhance.data import SyntheticLowLight
from llenhance.evaluation import (
    TEST_SEED,
    ciede2000,
    darkened_pairs,
    evaluate_fer,
    evaluate_niqe,
    evaluate_pairs,
    markdown_table,
    predict,
    write_results,
)
from llenhance.metrics import psnr, ssim
from llenhance.niqe import niqe
from llenhance.transforms import LowLightSynth


class TestCIEDE2000:
    def test_matches_scikit_image(self) -> None:
        g = torch.Generator().manual_seed(0)
        a = torch.rand(3, 3, 16, 16, generator=g)
        b = (a + 0.2 * torch.randn(3, 3, 16, 16, generator=g)).clamp(0, 1)
        a[0, :, :4], b[0, :, :4] = 0.5, 0.3  # greys: chroma 0, hue undefined
        a[1, :, :4] = torch.tensor([0.6, 0.1, 0.5]).view(3, 1, 1)  # hues either side of 0 degrees
        b[1, :, :4] = torch.tensor([0.6, 0.5, 0.1]).view(3, 1, 1)
        ref = [deltaE_ciede2000(rgb2lab(x.permute(1, 2, 0).double().numpy()),
                                rgb2lab(y.permute(1, 2, 0).double().numpy())).mean() for x, y in zip(a, b)]
        torch.testing.assert_close(ciede2000(a, b), torch.tensor(ref, dtype=torch.float32), rtol=1e-5, atol=1e-4)

    def test_zero_and_symmetric(self) -> None:
        a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
        assert ciede2000(a, a).abs().max() < 1e-6
        torch.testing.assert_close(ciede2000(a, b), ciede2000(b, a), rtol=1e-5, atol=1e-5)

    def test_names_the_argument(self) -> None:
        with pytest.raises(ValueError, match="`target` expected values in"):
            ciede2000(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4) * 255)


def _pairs(n: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    highs = [torch.rand(3, 12 + 2 * i, 10, generator=g) for i in range(n)]  # sizes differ per pair
    return [(0.3 * h**2, h) for h in highs]


def test_evaluate_pairs_is_the_mean_of_per_pair_metrics() -> None:
    pairs = _pairs()
    scores = evaluate_pairs(global_gamma, pairs, progress=False)
    outs = [global_gamma(low[None]) for low, _ in pairs]
    assert scores["images"] == 3
    assert scores["psnr"] == pytest.approx(np.mean([float(psnr(o, h[None])) for o, (_, h) in zip(outs, pairs)]))
    assert scores["ssim"] == pytest.approx(np.mean([float(ssim(o, h[None])) for o, (_, h) in zip(outs, pairs)]))
    assert scores["ciede2000"] == pytest.approx(
        np.mean([float(ciede2000(o, h[None])) for o, (_, h) in zip(outs, pairs)]), rel=1e-5)
    # grey shift by hand: BT.601 luma of output minus reference, per pixel, averaged
    shift = [float((0.299 * (o - h)[:, 0] + 0.587 * (o - h)[:, 1] + 0.114 * (o - h)[:, 2]).mean())
             for o, (_, h) in zip(outs, pairs)]
    assert scores["grey_shift"] == pytest.approx(np.mean(shift), abs=1e-6)
    assert evaluate_pairs(None, [(h, h) for _, h in pairs], progress=False)["grey_shift"] == 0.0
    plain = evaluate_pairs(None, pairs, progress=False)  # no method: the input itself
    assert plain["psnr"] == pytest.approx(np.mean([float(psnr(low[None], h[None])) for low, h in pairs]))
    with pytest.raises(ValueError, match=r"`method` returned shape \(1, 3, 4, 4\) for an input of shape \(1, 3, 12, 10\)"):
        evaluate_pairs(lambda x: x[..., :4, :4], pairs, progress=False)


def test_evaluate_pairs_batches_and_reads_labels() -> None:
    g = torch.Generator().manual_seed(3)
    highs = [torch.rand(3, 12, 10, generator=g) for _ in range(3)] + [torch.rand(3, 14, 10, generator=g)]
    pairs = [(0.3 * h**2, h, i % 2) for i, h in enumerate(highs)]
    calls: list[int] = []

    def method(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return global_gamma(x)

    class Brightest(torch.nn.Module):  # class 1 when the image is brighter than 0.4 on average, else 0
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x.mean((1, 2, 3))
            return torch.stack([0.4 - m, m - 0.4], 1)

    one = evaluate_pairs(method, pairs, classifier=Brightest(), progress=False)
    assert calls == [1, 1, 1, 1]
    calls.clear()
    two = evaluate_pairs(method, pairs, classifier=Brightest(), batch_size=2, progress=False)
    assert calls == [2, 1, 1]  # two of 12x10, the third alone, then the 14x10 one
    for a, b in zip(two["per_image"], one["per_image"], strict=True):
        assert a == pytest.approx(b)
    outs = [global_gamma(low[None]) for low, _, _ in pairs]
    expected = np.mean([int(float(o.mean()) > 0.4) == label for o, (_, _, label) in zip(outs, pairs)])
    assert one["accuracy"] == two["accuracy"] == pytest.approx(expected) and one["labelled"] == 4
    assert "accuracy" not in evaluate_pairs(method, pairs, progress=False)  # no classifier: no accuracy
    with pytest.raises(ValueError, match=r"`pairs\[0\]` expected \(low, high\) or \(low, high, label\)"):
        evaluate_pairs(None, [torch.rand(3, 4, 4)], progress=False)
    with pytest.raises(ValueError, match="`batch_size` expected"):
        evaluate_pairs(None, pairs, batch_size=0, progress=False)


def test_predict_is_the_argmax_after_the_method_in_any_batch_size() -> None:
    torch.manual_seed(4)
    images = torch.rand(7, 3, 8, 8) * 0.3
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 5))
    with torch.no_grad():
        expected = classifier(global_gamma(images)).argmax(1)
        plain = classifier(images).argmax(1)
    for batch_size in (1, 3, 256):
        assert torch.equal(predict(classifier, images, global_gamma, batch_size=batch_size), expected)
    assert torch.equal(predict(classifier, images), plain)
    with pytest.raises(ValueError, match="`images` expected values in"):
        predict(classifier, images + 2)


def test_evaluate_niqe_is_the_mean_niqe() -> None:
    g = torch.Generator().manual_seed(2)
    images = [torch.rand(3, 192, 192, generator=g) * 0.3 for _ in range(2)]  # 4 NIQE blocks each
    scores = evaluate_niqe(None, images, progress=False)
    assert scores["niqe"] == pytest.approx(np.mean([niqe(x) for x in images]))


class _Threshold(torch.nn.Module):
    """Class 1 when the mean grey is above 0.3: an independent, hand-checkable classifier."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([0.3 - m, m - 0.3], 1)


def test_evaluate_fer_by_hand() -> None:
    g = torch.Generator().manual_seed(3)
    # 12 grey (1-channel) faces: the bright ones are class 1, the dark ones class 0 (and one mislabelled)
    faces = [(torch.full((1, 8, 8), v) + 0.01 * torch.rand(1, 8, 8, generator=g), int(v > 0.3))
             for v in (0.2, 0.25, 0.5, 0.6, 0.7, 0.8, 0.55, 0.65, 0.75, 0.45, 0.1, 0.9)]
    faces[0] = (faces[0][0], 1)
    lift = lambda x: global_gamma(x, target=0.5)  # noqa: E731
    result = evaluate_fer(_Threshold(), faces, {"none": None, "gamma": lift}, progress=False)

    labels = torch.tensor([label for _, label in faces])
    normal = torch.stack([x.expand(3, -1, -1) for x, _ in faces])
    dark_set = SyntheticLowLight(list(zip(normal, labels.tolist())), LowLightSynth(), seed=TEST_SEED)
    dark = torch.stack([dark_set[i][0] for i in range(12)])

    def acc(x: torch.Tensor) -> float:
        return float(((x.mean(dim=(1, 2, 3)) > 0.3).long() == labels).float().mean())

    assert result["normal_accuracy"] == pytest.approx(11 / 12) == pytest.approx(acc(normal))
    assert result["dark_accuracy"] == pytest.approx(acc(dark))
    gamma = result["methods"]["gamma"]
    assert gamma["accuracy"] == pytest.approx(acc(lift(dark)))
    assert gamma["well_lit_change"] == pytest.approx(acc(lift(normal)) - 11 / 12)
    expected = (acc(lift(dark)) - acc(dark)) / (11 / 12 - acc(dark))
    assert gamma["recovered_fraction"] == pytest.approx(expected)
    assert result["methods"]["none"]["recovered_fraction"] == 0.0
    with pytest.raises(ValueError, match="`darkening` expected one of"):
        evaluate_fer(_Threshold(), faces, {"none": None}, darkening="night", progress=False)
    mixed = faces[:2] + [(torch.rand(1, 9, 9), 0)]
    with pytest.raises(ValueError, match="several sizes .* pass `size`"):
        evaluate_fer(_Threshold(), mixed, {"none": None}, progress=False)
    assert evaluate_fer(_Threshold(), mixed, {"none": None}, size=8, progress=False)["faces"] == 3


def test_results_writer(tmp_path: Path) -> None:
    md = markdown_table(["a", "b"], [("x", 0.5), ("y", None)])
    assert md == "| a | b |\n| --- | --- |\n| x | 0.5000 |\n| y | – |\n"
    json_path, md_path = write_results(tmp_path / "r", {"v": 1.5}, md)
    assert json.loads(json_path.read_text()) == {"v": 1.5} and md_path.read_text() == md
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md"]


def test_cli_evaluate_pairs(tmp_path: Path) -> None:
    for sub in ("low", "high"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        high = rng.integers(40, 255, (20, 24, 3), dtype=np.uint8)
        PIL.Image.fromarray(high).save(tmp_path / "data" / "high" / f"{i}.png")
        PIL.Image.fromarray((high * 0.2).astype(np.uint8)).save(tmp_path / "data" / "low" / f"{i}.png")
    cmd = [sys.executable, "-m", "llenhance.cli", "evaluate", "pairs", "--data", str(tmp_path / "data"),
           "--baselines", "--device", "cpu", "--output", str(tmp_path / "res")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "res.json").read_text())
    assert list(results["methods"]) == ["input (no enhancement)", "global gamma (mean grey -> 0.5)",
                                        "CLAHE (kornia, clip 2, 8x8)", "llenet-photo"]
    from llenhance.data import PairedImageFolder

    ref = evaluate_pairs(global_gamma, PairedImageFolder(tmp_path / "data"), progress=False)
    assert results["methods"]["global gamma (mean grey -> 0.5)"]["psnr"] == pytest.approx(ref["psnr"])
    markdown = (tmp_path / "res.md").read_text()
    assert "| llenet-photo |" in markdown
    assert "| method | PSNR (dB) ↑ | SSIM ↑ | CIEDE2000 ↓ | grey shift |" in markdown
    assert "Grey shift: the output's mean grey level (BT.601 luma, [0, 1]) minus the reference's" in markdown
    assert "llenet-photo: " in done.stderr and "CLAHE (kornia, clip 2, 8x8): " in done.stderr  # labelled bars
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    bad = subprocess.run(cmd[:-2] + ["--weights", "no-such-weights"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--weights" in bad.stderr


def test_cli_evaluate_niqe_names_a_missing_data_folder(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "llenhance.cli", "evaluate", "niqe", "--data", str(tmp_path / "missing")]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and f"--data {tmp_path / 'missing'}: expected a folder of images" in done.stderr
    assert "Traceback" not in done.stderr


class TestDarkenedPairs:
    def _images(self) -> list[torch.Tensor]:
        torch.manual_seed(0)
        return [0.4 + 0.5 * torch.rand(3, 1, 1) * torch.rand(3, 48, 64) ** 0.1 for _ in range(3)]

    def test_paper_darkening_is_eq_14_and_repeats(self) -> None:
        images = self._images()
        pairs = darkened_pairs(images, "paper")
        for (dark, clean), image in zip(pairs, images):
            assert clean is image
            # beta * (alpha * x) ** gamma: log dark is linear in log x with slope gamma in [1.5, 5]
            x, y = clean.double().log().flatten(), dark.double().log().flatten()
            slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
            assert 1.5 <= float(slope) <= 5.0
            torch.testing.assert_close(y, y.mean() + slope * (x - x.mean()), atol=1e-5, rtol=0)
        again = darkened_pairs(images, "paper")
        assert all(torch.equal(a[0], b[0]) for a, b in zip(pairs, again))
        assert not torch.equal(darkened_pairs(images, "paper", seed=1)[0][0], pairs[0][0])

    def test_jpeg75_darkening_is_stored_at_quality_75(self) -> None:
        from llenhance import jpeg_round_trip

        images = self._images()
        noisy = darkened_pairs(images, "realistic")[0][0]
        stored = darkened_pairs(images, "realistic-jpeg75")[0][0]
        # a JPEG of quality 75 barely changes when stored again at 75; a noisy image changes a lot
        assert float((jpeg_round_trip(stored[None], 75)[0] - stored).abs().mean()) < 0.5 / 255
        assert float((jpeg_round_trip(noisy[None], 75)[0] - noisy).abs().mean()) > 1 / 255

    def test_bad_arguments_are_named(self) -> None:
        with pytest.raises(ValueError, match=r"`darkening` expected one of .*'realistic-jpeg75'.*got 'night'"):
            darkened_pairs(self._images(), "night")
        with pytest.raises(ValueError, match=r"`images\[0\]` expected a single \(3, H, W\) image"):
            darkened_pairs([torch.rand(1, 3, 8, 8)], "paper")
