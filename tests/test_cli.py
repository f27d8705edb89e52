from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from safetensors.torch import save_file

from llenhance import Enhancer, LLENet
from llenhance.cli import main
from tests.training.helpers import TinyClassifier


def _pairs(root: Path, n: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        high = rng.integers(60, 256, (24, 24, 3), dtype=np.uint8)
        for sub, img in (("high", high), ("low", high // 6)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            PIL.Image.fromarray(img).save(root / sub / f"{i}.png")
    return root


def _fer(root: Path) -> Path:
    rng = np.random.default_rng(1)
    for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
        (root / c).mkdir(parents=True)
        for i in range(2):
            PIL.Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


def test_help_and_version_do_not_load_torch() -> None:
    import subprocess
    import sys

    script = ("import sys\nfrom llenhance.cli import main\n"
              "for argv in (['--version'], ['--help'], ['enhance', '--help']):\n"
              "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, e.code\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr
    from importlib.metadata import version

    assert f"llenhance {version('llenhance')}" in done.stdout  # the installed distribution's version


class TestTrainCommand:
    def test_help_documents_both_modes(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "reconstruction" in out and "joint" in out and "torchrun" in out

    def test_reconstruction(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        data = _pairs(tmp_path / "pairs")
        out = tmp_path / "run"
        args = ["train", "reconstruction", "--data", str(data), "--val", str(data), "--output", str(out),
                "--iterations", "2", "--batch-size", "2", "--crop", "16", "--perceptual-weight", "0"]
        assert main(args) == 0
        record = json.loads((out / "training.json").read_text())
        assert record["iterations"] == 2 and record["trainer"]["perceptual_feature_net"] == "off (weight 0)"
        assert set(record["final_metrics"]) >= {"loss", "val_psnr", "val_ssim"}
        assert isinstance(Enhancer.from_pretrained(out).network, LLENet)
        assert (out / "checkpoints" / "checkpoint.pt").is_file()
        # a second run into the same folder must not overwrite the model
        assert main(args) == 2
        assert "already holds a model" in capsys.readouterr().err
        # ... unless it resumes; a finished run stays as it was
        before = (out / "training.json").read_bytes()
        capsys.readouterr()
        assert main([*args, "--resume"]) == 0
        assert "finished its 2 iterations already" in capsys.readouterr().out
        assert (out / "training.json").read_bytes() == before
        # resuming with other settings is refused, naming each difference
        for flag, value, name in (("--lr", "0.001", "lr"), ("--batch-size", "4", "batch_size"),
                                  ("--schedule", "cosine", "schedule"), ("--seed", "3", "seed"),
                                  ("--crop", "8", "crop")):
            assert main([*args, "--resume", flag, value]) == 2  # argparse: the last value wins
            err = capsys.readouterr().err
            assert "these differ" in err and name in err, (flag, err)
        assert (out / "training.json").read_bytes() == before
        # TR06: and with other data
        other = _pairs(tmp_path / "other")
        assert main([*args, "--resume", "--data", str(other)]) == 2
        err = capsys.readouterr().err
        assert "these differ" in err and str(other.resolve()) in err

    def test_reconstruction_inputs_and_a_diverging_run(self, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
        data = _pairs(tmp_path / "pairs")
        out = tmp_path / "run"
        args = ["train", "reconstruction", "--data", str(data), "--output", str(out), "--iterations", "2",
                "--batch-size", "2", "--crop", "16", "--perceptual-weight", "0", "--inputs", "real", "realistic-jpeg"]
        assert main(args) == 0
        record = json.loads((out / "training.json").read_text())
        assert record["trainer"]["data"]["inputs"] == ["real", "realistic-jpeg"]
        capsys.readouterr()
        assert main([*args[:-2], "paper", "--resume"]) == 2  # the input mix is part of the run
        assert "these differ" in capsys.readouterr().err
        # a run whose loss turns non-finite stops with one clear line naming the options to change
        diverging = ["train", "reconstruction", "--data", str(data), "--output", str(tmp_path / "nan"),
                     "--iterations", "6", "--batch-size", "2", "--crop", "16", "--perceptual-weight", "0",
                     "--lr", "1e30", "--log-every", "1"]
        assert main(diverging) == 2
        err = capsys.readouterr().err
        assert "NaN or infinite" in err and "--lr, --clip-grad-norm" in err and "Traceback" not in err
        # TR07: crops too small for the losses are refused before the run starts
        assert main([*args[:-3], "--crop", "4", "--output", str(tmp_path / "tiny")]) == 2
        assert "--crop expected at least 8 pixels" in capsys.readouterr().err
        assert not (tmp_path / "tiny").exists()

    @pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
    def test_joint(self, tmp_path: Path, suffix: str) -> None:
        data = _fer(tmp_path / "fer")
        weights = tmp_path / f"classifier{suffix}"
        state = TinyClassifier().state_dict()
        save_file(state, weights) if suffix == ".safetensors" else torch.save(state, weights)
        out = tmp_path / "run"
        code = main(["train", "joint", "--data", str(data), "--val", str(data), "--output", str(out),
                     "--classifier", "tests.training.helpers:TinyClassifier", "--classifier-weights", str(weights),
                     "--classifier-mean", "0.5", "0.5", "0.5", "--classifier-std", "0.5", "0.5", "0.5",
                     "--iterations", "2", "--batch-size", "4", "--crop", "16", "--perceptual-weight", "0"])
        assert code == 0
        record = json.loads((out / "training.json").read_text())
        assert record["trainer"]["classifier_stages"] == ["layer1", "layer2"]
        assert "val_accuracy" in record["final_metrics"]

    def test_errors(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        data = _fer(tmp_path / "fer")
        base = ["train", "joint", "--data", str(data), "--output", str(tmp_path / "o"), "--perceptual-weight", "0",
                "--iterations", "1", "--batch-size", "2", "--crop", "16"]
        assert main([*base, "--classifier", "nomodule"]) == 2
        assert "expected 'module:factory'" in capsys.readouterr().err
        assert main([*base, "--classifier", "tests.training.helpers:Nope"]) == 2
        assert "cannot import" in capsys.readouterr().err
        bad = tmp_path / "bad.pt"
        torch.save({"fc.weight": torch.zeros(1)}, bad)
        assert main([*base, "--classifier", "tests.training.helpers:TinyClassifier", "--classifier-weights", str(bad)]) == 2
        assert "does not fit" in capsys.readouterr().err
        # C06/E10: 7 outputs against 3 class names (and the evaluate command the same way)
        three = [*base, "--classifier", "tests.training.helpers:TinyClassifier", "--classes", "angry", "happy", "sad"]
        assert main(three) == 2
        assert "gives 7 outputs, but there are 3 class names (angry, happy, sad)" in capsys.readouterr().err
        assert main(["evaluate", "fer", "--data", str(data), "--classifier", "tests.training.helpers:TinyClassifier",
                     "--classes", "angry", "happy", "sad", "--output", str(tmp_path / "ev")]) == 2
        assert "gives 7 outputs" in capsys.readouterr().err
        assert main([*base, "--classifier", "tests.training.helpers:TinyClassifier", "--classifier-grayscale",
                     "--classifier-mean", "0.5", "--classifier-std", "0.5"]) == 2
        assert "takes 3 input channel(s)" in capsys.readouterr().err
        assert main(["train", "reconstruction", "--data", str(tmp_path / "none"), "--output", str(tmp_path / "o2"),
                     "--perceptual-weight", "0"]) == 2
        assert "does not exist" in capsys.readouterr().err


def _dark_images(root: Path) -> Path:
    rng = np.random.default_rng(2)
    (root / "sub").mkdir(parents=True)
    PIL.Image.fromarray(rng.integers(0, 60, (20, 30, 3), dtype=np.uint8)).save(root / "a.png")
    PIL.Image.fromarray(rng.integers(0, 60, (24, 18, 3), dtype=np.uint8)).save(root / "sub" / "b.jpg")
    PIL.Image.fromarray(rng.integers(0, 60, (16, 16), dtype=np.uint8)).save(root / "sub" / "c.bmp")
    return root


class TestEnhanceCommand:
    def test_folder_recursive_keeps_names_and_formats(self, tmp_path: Path) -> None:
        src = _dark_images(tmp_path / "in")
        before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
        out = tmp_path / "out"
        assert main(["enhance", str(src), "--output", str(out), "--side-by-side"]) == 0
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
            "a.png", "side_by_side/a.png", "side_by_side/sub/b.jpg", "side_by_side/sub/c.bmp", "sub/b.jpg", "sub/c.bmp",
        ]
        a = PIL.Image.open(out / "a.png")
        assert a.size == (30, 20) and a.format == "PNG"
        assert PIL.Image.open(out / "sub" / "b.jpg").format == "JPEG"
        c = PIL.Image.open(out / "sub" / "c.bmp")
        assert c.format == "BMP" and c.mode == "L"
        assert PIL.Image.open(out / "side_by_side" / "a.png").size == (60, 20)
        assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before  # inputs untouched
        assert not list(out.rglob(".llenhance-*"))  # no temporary files left

    def test_tiled(self, tmp_path: Path) -> None:
        src = _dark_images(tmp_path / "in")
        assert main(["enhance", str(src / "a.png"), "--output", str(tmp_path / "o"), "--tile", "48", "--overlap", "4"]) == 0
        assert (tmp_path / "o" / "a.png").is_file()

    def test_refuses_to_write_into_inputs(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        src = _dark_images(tmp_path / "in")
        assert main(["enhance", str(src), "--output", str(src / "out")]) == 2
        assert "inside the input folder" in capsys.readouterr().err
        assert main(["enhance", str(src / "a.png"), "--output", str(src)]) == 2
        assert "would write over input files" in capsys.readouterr().err
        assert not (src / "out").exists()

    def _snapshot(self, root: Path) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def test_refuses_outputs_that_are_other_inputs(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        # `enhance day1 backup --output .` where backup/day1/img.png exists: ./day1/img.png is an input
        images = _dark_images(tmp_path / "src")
        for folder in (tmp_path / "day1", tmp_path / "backup" / "day1"):
            folder.mkdir(parents=True)
            (folder / "img.png").write_bytes((images / "a.png").read_bytes())
        before = self._snapshot(tmp_path)
        monkeypatch.chdir(tmp_path)
        assert main(["enhance", "day1", "backup", "--output", ".", "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert "would write over input files" in err and "day1/img.png" in err
        assert self._snapshot(tmp_path) == before
        # the same file through a link counts as the input
        (tmp_path / "linked").mkdir()
        (tmp_path / "linked" / "img.png").symlink_to(tmp_path / "day1" / "img.png")
        before = self._snapshot(tmp_path)
        assert main(["enhance", "day1/img.png", "--output", "linked", "--overwrite"]) == 2
        assert "would write over input files" in capsys.readouterr().err
        assert self._snapshot(tmp_path) == before

    def test_existing_outputs(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        src = _dark_images(tmp_path / "in")
        out = tmp_path / "out"
        (out / "sub").mkdir(parents=True)
        (out / "a.png").write_bytes(b"keep me")
        # refused by default, naming the file; nothing written
        assert main(["enhance", str(src), "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert "already holds 1 of the output files" in err and str(out / "a.png") in err
        assert (out / "a.png").read_bytes() == b"keep me" and not (out / "sub" / "b.jpg").exists()
        # --skip-existing keeps it and does the rest
        assert main(["enhance", str(src), "--output", str(out), "--skip-existing"]) == 0
        assert (out / "a.png").read_bytes() == b"keep me" and (out / "sub" / "b.jpg").is_file()
        assert "enhanced 2 of 2 images" in capsys.readouterr().out
        # new outputs get the permissions open() would give them (not mkstemp's private 0600)
        import os

        umask = os.umask(0)
        os.umask(umask)
        assert (out / "sub" / "b.jpg").stat().st_mode & 0o777 == 0o666 & ~umask
        # --overwrite replaces it with the enhanced image, keeping the replaced file's permissions
        (out / "a.png").chmod(0o640)
        assert main(["enhance", str(src), "--output", str(out), "--overwrite"]) == 0
        assert PIL.Image.open(out / "a.png").size == (30, 20)
        assert (out / "a.png").stat().st_mode & 0o777 == 0o640
        assert not list(out.rglob(".llenhance-*"))  # nothing half-written left behind
        assert main(["enhance", str(src), "--output", str(out), "--overwrite", "--skip-existing"]) == 2
        assert "exclude each other" in capsys.readouterr().err

    def test_unreadable_files_are_skipped(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        src = _dark_images(tmp_path / "in")
        (src / "broken.png").write_bytes(b"not an image")
        assert main(["enhance", str(src), "--output", str(tmp_path / "o")]) == 1
        captured = capsys.readouterr()
        assert "skipped" in captured.err and "broken.png" in captured.err
        assert "enhanced 3 of 4 images" in captured.out
        assert (tmp_path / "o" / "a.png").is_file()

    def test_batches_match_one_at_a_time_and_a_bad_image_fails_alone(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        src = _dark_images(tmp_path / "in")
        rng = np.random.default_rng(5)
        for name in ("d.png", "e.png"):  # two more of a.png's size: a.png, d.png, e.png can share a batch
            PIL.Image.fromarray(rng.integers(0, 60, (20, 30, 3), dtype=np.uint8)).save(src / name)
        # a 32-bit image of a.png's size with values past 16 bits: enhance() refuses it, inside a batch
        PIL.Image.fromarray(np.full((20, 30), 70000, np.int32), mode="I").save(src / "big.tiff")
        before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
        assert main(["enhance", str(src), "--output", str(tmp_path / "one")]) == 1
        capsys.readouterr()
        assert main(["enhance", str(src), "--output", str(tmp_path / "two"), "--batch-size", "2"]) == 1
        captured = capsys.readouterr()
        assert "big.tiff" in captured.err and "[0, 65535]" in captured.err
        assert "enhanced 5 of 6 images" in captured.out
        names = sorted(str(p.relative_to(tmp_path / "one")) for p in (tmp_path / "one").rglob("*") if p.is_file())
        assert names == ["a.png", "d.png", "e.png", "sub/b.jpg", "sub/c.bmp"]
        for name in names:
            one = np.asarray(PIL.Image.open(tmp_path / "one" / name), np.int16)
            two = np.asarray(PIL.Image.open(tmp_path / "two" / name), np.int16)
            assert np.abs(one - two).max() <= (1 if name.endswith("png") else 3), name
        assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before  # inputs untouched
        assert not list(tmp_path.rglob(".llenhance-*"))  # nothing half-written left, the refused image included
        assert not (tmp_path / "two" / "big.tiff").exists()

    def test_bad_inputs(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["enhance", str(tmp_path / "missing.png"), "--output", str(tmp_path / "o")]) == 2
        assert "does not exist" in capsys.readouterr().err
        (tmp_path / "notes.txt").write_text("x")
        assert main(["enhance", str(tmp_path / "notes.txt"), "--output", str(tmp_path / "o")]) == 2
        assert "not an image or video file" in capsys.readouterr().err
        src = _dark_images(tmp_path / "in")
        assert main(["enhance", str(src), "--output", str(tmp_path / "o"), "--weights", "nope"]) == 2
        assert "--weights" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("device", "match"),
    [("cuda:7", "--device cuda:7: (CUDA is not available|this machine has)"), ("gpu", "--device expected auto, cpu")],
)
def test_bad_device_is_refused_before_any_work(tmp_path: Path, device: str, match: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = _dark_images(tmp_path / "in")
    assert main(["enhance", str(src), "--output", str(tmp_path / "o"), "--device", device]) == 2
    assert __import__("re").search(match, capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize(("args", "match"), [
    (["--amp", "--device", "cpu"], "--amp runs bfloat16 on CUDA; the device here is cpu"),
    (["--half", "--device", "cpu"], "--amp runs bfloat16 on CUDA; the device here is cpu"),  # the old name
    (["--threads", "0"], "--threads expected an int >= 1, got 0"),
    (["--batch-size", "0"], "--batch-size expected an int >= 1, got 0"),
])
def test_bad_speed_options_are_refused_before_any_work(tmp_path: Path, args: list[str], match: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    src = _dark_images(tmp_path / "in")
    assert main(["enhance", str(src), "--output", str(tmp_path / "o"), *args]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_threads_option_sets_torch_threads(tmp_path: Path) -> None:
    src = _dark_images(tmp_path / "in")
    before = torch.get_num_threads()
    try:
        assert main(["enhance", str(src), "--output", str(tmp_path / "o"), "--threads", "1", "--device", "cpu"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


class TestEnhanceKeepsWhatFilesHold:
    """Bit depth, alpha, orientation and colour profile survive `llenhance enhance`."""

    def test_16_bit_png_keeps_depth_and_range(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(0)
        dark = rng.integers(200, 3000, (24, 20), dtype=np.uint16)  # dark in 16 bits; clipped to 8 bits it is white
        (tmp_path / "in").mkdir()
        PIL.Image.fromarray(dark).save(tmp_path / "in" / "d.png")
        assert main(["enhance", str(tmp_path / "in"), "--output", str(tmp_path / "o")]) == 0
        out = PIL.Image.open(tmp_path / "o" / "d.png")
        assert out.mode == "I;16" and out.size == (20, 24)
        values = np.asarray(out).astype(np.int64)
        # brighter than the input, and neither clipped to 255 (8-bit) nor saturated
        assert values.mean() > dark.mean() and values.max() > 255 and values.max() < 65535
        assert len(np.unique(values)) > 256  # more levels than 8 bits hold

    def test_alpha_is_kept(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(1)
        (tmp_path / "in").mkdir()
        alpha = rng.integers(0, 256, (16, 16), dtype=np.uint8)
        la = np.stack([rng.integers(0, 50, (16, 16), dtype=np.uint8), alpha], -1)
        PIL.Image.fromarray(la, "LA").save(tmp_path / "in" / "la.png")
        rgba = np.concatenate([rng.integers(0, 50, (16, 16, 3), dtype=np.uint8), alpha[..., None]], -1)
        PIL.Image.fromarray(rgba, "RGBA").save(tmp_path / "in" / "rgba.png")
        assert main(["enhance", str(tmp_path / "in"), "--output", str(tmp_path / "o")]) == 0
        for name, mode in (("la.png", "LA"), ("rgba.png", "RGBA")):
            out = PIL.Image.open(tmp_path / "o" / name)
            assert out.mode == mode
            np.testing.assert_array_equal(np.asarray(out.getchannel("A")), alpha)

    def test_exif_orientation_applied_and_icc_kept(self, tmp_path: Path) -> None:
        from PIL import ImageCms

        rng = np.random.default_rng(2)
        (tmp_path / "in").mkdir()
        stored = PIL.Image.fromarray(rng.integers(0, 60, (10, 30, 3), dtype=np.uint8))  # stored 30 wide, 10 high
        exif = PIL.Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
        exif[0x010F] = "TestMaker"  # camera make: must survive
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        stored.save(tmp_path / "in" / "phone.jpg", exif=exif.tobytes(), icc_profile=icc, quality=95)
        assert main(["enhance", str(tmp_path / "in"), "--output", str(tmp_path / "o")]) == 0
        out = PIL.Image.open(tmp_path / "o" / "phone.jpg")
        assert out.size == (10, 30)  # upright: the orientation was applied
        out_exif = out.getexif()
        assert out_exif.get(0x0112, 1) == 1 and out_exif.get(0x010F) == "TestMaker"
        assert out.info.get("icc_profile") == icc


def test_train_arch_option_and_its_old_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    from llenhance.cli import build_parser
    from llenhance.cli.common import enhancer_from_args as _enhancer

    parse = build_parser().parse_args
    base = ["train", "reconstruction", "--data", "d", "--output", "o"]
    assert _enhancer(parse(base + ["--arch", "llenet_b"])).network.width == 32  # llenet_b
    assert _enhancer(parse(base)).network.width == 16  # llenet_s by default
    assert _enhancer(parse(base + ["--model", "llenet_b"])).network.width == 32
    assert "`train --model` is now `train --arch`" in capsys.readouterr().err


def test_train_stem_stride_option() -> None:
    from llenhance.cli import build_parser
    from llenhance.cli.common import CLIError
    from llenhance.cli.common import enhancer_from_args as _enhancer

    parse = build_parser().parse_args
    base = ["train", "reconstruction", "--data", "d", "--output", "o"]
    assert _enhancer(parse(base)).network.stem_stride == 2  # llenet_s folds 2x2 blocks by default
    net = _enhancer(parse(base + ["--stem-stride", "1", "--curve-target", "0.45"]))
    assert (net.network.stem_stride, net.network.width, net.curve_target) == (1, 16, 0.45)
    x = torch.rand(1, 3, 20, 28) * 0.2
    assert net(x).shape == x.shape
    assert _enhancer(parse(base + ["--arch", "llenet_b", "--stem-stride", "2"])).network.stem_stride == 2
    with pytest.raises(SystemExit):
        parse(base + ["--stem-stride", "3"])
    with pytest.raises(CLIError, match="--stem-stride and --init"):
        _enhancer(parse(base + ["--stem-stride", "1", "--init", "llenet-faces"]))


def test_train_output_target_options() -> None:
    from llenhance.cli import build_parser
    from llenhance.cli.common import CLIError
    from llenhance.cli.common import enhancer_from_args as _enhancer

    parse = build_parser().parse_args
    base = ["train", "reconstruction", "--data", "d", "--output", "o"]
    assert _enhancer(parse(base + ["--output-target", "0.4"])).output_target == 0.4
    assert _enhancer(parse(base)).output_target is None
    net = _enhancer(parse(base + ["--init", "llenet-sice", "--output-target", "0.4"]))  # set on loaded weights
    assert (net.output_target, net.curve_target) == (0.4, None)
    assert parse(base + ["--loss-at-reference-exposure"]).target_exposure and not parse(base).target_exposure
    from llenhance.cli import _take_old_flags  # the name before 0.4 (in the shipped weights' recorded commands)

    old = parse(base + ["--target-exposure"])
    _take_old_flags(old)
    assert old.target_exposure
    with pytest.raises(CLIError, match="--curve-target and --init"):  # the weights' curve is not silently kept
        _enhancer(parse(base + ["--curve-target", "0.3", "--init", "llenet-faces"]))
    with pytest.raises(ValueError, match="`output_target` expected a mean grey level"):
        _enhancer(parse(base + ["--output-target", "1.5"]))


def test_skip_existing_runs_inputs_missing_an_output(tmp_path: Path) -> None:
    """I13: a first run without --side-by-side, then --side-by-side --skip-existing: the pictures get made."""
    import PIL.Image

    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        PIL.Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 50).astype(np.uint8)).save(
            tmp_path / "in" / f"{name}.png")
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "in"), "--output", str(out), "--weights", "llenet-sice"]) == 0
    assert main(["enhance", str(tmp_path / "in"), "--output", str(out), "--weights", "llenet-sice", "--side-by-side",
                 "--skip-existing"]) == 0
    assert sorted(p.name for p in (out / "side_by_side").iterdir()) == ["a.png", "b.png"]


def test_linked_folders_lossless_webp_and_frames(tmp_path: Path) -> None:
    """I06b: images in a linked sub-folder are found (a link back up does not loop); I04: a lossless WebP stays
    lossless; I02: a multi-frame file is said to lose its other frames."""
    import os
    import subprocess
    import sys

    import PIL.Image

    rng = np.random.default_rng(0)
    picture = PIL.Image.fromarray((rng.random((24, 32, 3)) * 50).astype(np.uint8))
    (tmp_path / "elsewhere").mkdir()
    picture.save(tmp_path / "elsewhere" / "linked.png")
    (tmp_path / "in").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "in" / "sub")
    os.symlink(tmp_path / "in", tmp_path / "in" / "loop")
    picture.save(tmp_path / "in" / "clean.webp", lossless=True)
    picture.save(tmp_path / "in" / "pages.tiff", save_all=True, append_images=[picture, picture])
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "llenhance.cli", "enhance", str(tmp_path / "in"), "--output", str(out),
                          "--weights", "llenet-sice"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (out / "sub" / "linked.png").is_file() and "enhanced 3 of 3 images" in run.stdout
    assert (out / "clean.webp").read_bytes()[12:16] == b"VP8L"
    assert "pages.tiff holds 3 frames" in run.stderr and "only the first" in run.stderr


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_E07_niqe_limit_below_one_is_refused(tmp_path: Path, limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    """E07/E07b: --limit -1 used to drop the last image in silence (a Python slice), 0 to score nothing."""
    import PIL.Image

    (tmp_path / "d").mkdir()
    PIL.Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "d" / "a.png")
    assert main(["evaluate", "niqe", "--data", str(tmp_path / "d"), "--limit", limit,
                 "--output", str(tmp_path / "o")]) == 2
    assert f"--limit expected a number of images >= 1, got {limit}" in capsys.readouterr().err


def test_classifier_option_errors_name_the_option_and_the_fix(tmp_path: Path) -> None:
    """C02 (not callable), C05 (no num_classes=), C10c (not safetensors), C14 (module in the current folder),
    C23 (a folder of videos only): one line each, naming the option and what to do."""
    import subprocess
    import sys

    import PIL.Image

    (tmp_path / "myclf.py").write_text(
        "import torch\nNOT_CALLABLE = 42\n"
        "def raises(num_classes=7):\n    raise RuntimeError('factory blew up')\n"
        "def other_kwarg(classes=7):\n"
        "    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, classes))\n")
    PIL.Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "face.png")
    (tmp_path / "garbage.safetensors").write_bytes(b"\xff" * 70)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "clip.mp4").write_bytes(b"")

    def run(*args: str, path: str | None = "") -> subprocess.CompletedProcess:
        env = dict(__import__("os").environ)
        env.pop("PYTHONPATH", None)
        if path:
            env["PYTHONPATH"] = path
        # the installed command, as users run it (python -m would put the current folder on the path)
        command = Path(sys.executable).parent / "llenhance"
        return subprocess.run([str(command), *args], capture_output=True, text=True, cwd=tmp_path, env=env,
                              timeout=300)

    base = ["enhance", "face.png", "--output", "out", "--faces"]
    done = run(*base, "--classifier", "myclf:NOT_CALLABLE", path=str(tmp_path))
    assert done.returncode == 2 and "--classifier: myclf:NOT_CALLABLE is a int, expected a callable" in done.stderr
    done = run(*base, "--classifier", "myclf:other_kwarg", "--classes", "happy", "sad", "neutral",
               path=str(tmp_path))
    assert done.returncode == 2 and "takes no num_classes=" in done.stderr and "gives 7 outputs" in done.stderr
    done = run(*base, "--classifier", "myclf:raises", path=str(tmp_path))  # C04: the factory's own error
    assert done.returncode == 2 and "--classifier: myclf:raises failed: RuntimeError: factory blew up" in done.stderr
    assert "Traceback" not in done.stderr
    done = run(*base, "--classifier", "torchvision.models:resnet18", "--classifier-weights", "garbage.safetensors")
    assert done.returncode == 2 and "--classifier-weights: cannot read garbage.safetensors as safetensors" in done.stderr
    done = run(*base, "--classifier", "myclf:other_kwarg")
    assert done.returncode == 2 and "pass the file, --classifier myclf.py:other_kwarg, run with PYTHONPATH=." in done.stderr
    done = run("enhance", "videos", "--output", "out2")
    assert done.returncode == 2 and "pass videos by their file names" in done.stderr
    for result in (done,):
        assert "Traceback" not in result.stderr


def test_classifier_from_a_file_path(tmp_path: Path) -> None:
    """--classifier path/to/file.py:factory imports the file as `python FILE` would: the files beside it import."""
    from llenhance.cli.common import CLIError
    from llenhance.cli.common import build_classifier as _build_classifier

    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "layers.py").write_text("import torch\nWIDTH = 5\n")
    (tmp_path / "proj" / "nets.py").write_text(
        "import torch\nfrom layers import WIDTH\n"
        "def fer_net(num_classes=3):\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(WIDTH, num_classes))\n"
        "def broken():\n    raise RuntimeError('no')\n")
    (tmp_path / "proj" / "bad.py").write_text("import not_a_module_anywhere\n")
    model = _build_classifier(f"{tmp_path}/proj/nets.py:fer_net", None, 7)
    assert model[1].in_features == 5 and model[1].out_features == 7
    assert str(tmp_path / "proj") not in sys.path  # the import path is left as it was
    with pytest.raises(CLIError, match=r"--classifier: there is no file .*missing.py"):
        _build_classifier(f"{tmp_path}/proj/missing.py:fer_net", None, 7)
    with pytest.raises(CLIError, match=r"--classifier: importing .*bad.py failed: ModuleNotFoundError"):
        _build_classifier(f"{tmp_path}/proj/bad.py:net", None, 7)
    with pytest.raises(CLIError, match=r"--classifier: cannot import .*nets.py:nothing"):
        _build_classifier(f"{tmp_path}/proj/nets.py:nothing", None, 7)


def test_weights_that_do_not_fit_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """H02c: a weights folder with a key the network lacks is a `--model:` error, not a traceback."""
    from safetensors.torch import load_file

    from llenhance.cli import main

    Enhancer.from_pretrained("llenet-sice").save_pretrained(tmp_path / "extra")
    state = load_file(tmp_path / "extra" / "model.safetensors")
    state["bogus.weight"] = torch.zeros(2)
    save_file(state, tmp_path / "extra" / "model.safetensors")
    PIL.Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    assert main(["enhance", str(tmp_path / "a.png"), "--output", str(tmp_path / "out"),
                 "--weights", str(tmp_path / "extra")]) == 2
    err = capsys.readouterr().err
    assert "--weights: " in err and 'Unexpected key(s) in state_dict: "bogus.weight"' in err
    assert not (tmp_path / "out" / "a.png").exists()


def test_bad_strength_and_tile_are_refused_once_before_any_image(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Not one 'skipped' line per image: the options are checked before the first image, nothing is written."""
    from llenhance.cli import main

    for name in ("a.png", "b.png"):
        PIL.Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / name)
    inputs = [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--output", str(tmp_path / "out")]
    for extra, message in ((["--strength", "2"], "--strength expected a value in [0, 1], got 2.0"),
                           (["--strength", "nan"], "--strength expected a value in [0, 1], got nan"),
                           (["--tile", "3"], "--tile 3 --overlap 128: `overlap` expected an int in [0, tile // 2)")):
        assert main(["enhance", *inputs, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "skipped" not in err, err
    assert not (tmp_path / "out").exists()


def test_flags_renamed_in_0_4_still_work_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--model`` (weights) is ``--weights`` and ``--half`` is ``--amp`` now: the old spellings give the same
    result and say so on stderr."""
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 60).astype(np.uint8)).save(tmp_path / "in" / "a.png")
    assert main(["enhance", str(tmp_path / "in"), "--output", str(tmp_path / "new"), "--weights", "llenet-sice"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["enhance", str(tmp_path / "in"), "--output", str(tmp_path / "old"), "--model", "llenet-sice"]) == 0
    assert "--model is deprecated since 0.4 and will be removed; use --weights" in capsys.readouterr().err
    new, old = (np.asarray(Image.open(tmp_path / d / "a.png")) for d in ("new", "old"))
    assert np.array_equal(new, old)
    default = tmp_path / "default"
    assert main(["enhance", str(tmp_path / "in"), "--output", str(default)]) == 0
    assert not np.array_equal(np.asarray(Image.open(default / "a.png")), new)  # llenet-photo: the flag was used
