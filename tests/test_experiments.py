"""The experiment drivers (benchmarks/fer_experiments.py, ablations.py) end to end on tiny fixtures.

The numbers they write are checked against values computed here independently
(the classifier run by hand on the same dark faces, the recovered-fraction
formula, SSIM from scikit-image), so a driver that mislabels or misaligns
results fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from safetensors.torch import save_file
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ablations  # noqa: E402
from _fer_data import fer_split  # noqa: E402
import fer_experiments  # noqa: E402
from train_fer_classifier import ARCHS, MEAN, STD, load_classifier  # noqa: E402

from llenhance import LLENet  # noqa: E402

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _faces(root: Path, per_class: int, rng: np.random.Generator) -> None:
    for split in ("train", "val"):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                face = rng.integers(40, 230, (48, 48), dtype=np.uint8)
                PIL.Image.fromarray(face).save(root / split / c / f"{i}.png")


def _classifiers(root: Path) -> None:
    for arch, build in ARCHS.items():
        torch.manual_seed(1)
        state = build().state_dict()
        (root / f"fer-{arch}").mkdir(parents=True)
        save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in state.items()},
                  root / f"fer-{arch}" / "model.safetensors")


def test_fer_experiments_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _faces(tmp_path / "fer", 5, rng)
    _classifiers(tmp_path / "clf")
    results = fer_experiments.main([
        "--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
        "--results", str(tmp_path / "res"), "--iterations", "2", "--protocols", "paper",
    ])
    for name in ("fer_experiments.json", "fer_experiments.md", "fer_schemes.png", "fer_confusion_paper_resnet18.png",
                 "fer_confusion_paper_vgg.png"):
        assert (tmp_path / "res" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "res" / "fer_experiments.json").read_text()) == json.loads(json.dumps(results))
    protocol = results["protocols"]["paper"]
    faces = fer_split("folder", tmp_path / "fer", "val", size=48)
    assert faces.classes == CLASSES  # FER2013 class folders keep the FER2013 label order
    low, normal, labels = fer_experiments.dark_test_set(faces, "paper")
    assert len(labels) == 35 and bool((low.mean((1, 2, 3)) < normal.mean((1, 2, 3))).all())

    # The classifier run here by hand on the same faces gives the reported accuracies.
    for arch in ARCHS:
        net = load_classifier(arch, tmp_path / "clf" / f"fer-{arch}" / "model.safetensors")
        mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
        rows = protocol["classifiers"][arch]["methods"]
        with torch.no_grad():
            acc_normal = float((net((normal - mean) / std).argmax(1) == labels).float().mean())
            acc_low = float((net((low - mean) / std).argmax(1) == labels).float().mean())
        assert rows["normal light"]["accuracy"] == pytest.approx(acc_normal)
        assert rows["none (low light)"]["accuracy"] == pytest.approx(acc_low)
        cm = torch.tensor(rows["none (low light)"]["confusion_matrix"])
        assert int(cm.sum()) == 35 and cm.sum(1).tolist() == [5] * 7
        for name, row in rows.items():
            if row["recovered_fraction"] is not None:
                expected = (row["accuracy"] - acc_low) / (acc_normal - acc_low)
                assert row["recovered_fraction"] == pytest.approx(expected)

    # Quality of the IFER enhancer's output, recomputed with scikit-image's SSIM.
    ifer = LLENet.from_pretrained(tmp_path / "work" / "paper" / "ifer" / "model").eval()
    with torch.no_grad():
        enhanced = ifer(low).clamp(0, 1)
    ref = np.mean([
        structural_similarity(e.permute(1, 2, 0).double().numpy(), n.permute(1, 2, 0).double().numpy(),
                              channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for e, n in zip(enhanced, normal)
    ])
    assert protocol["quality"]["IFER (reconstruction only)"]["ssim"] == pytest.approx(ref, abs=1e-3)
    # The joint run was trained with the FER terms on; IFER with L_rec only.
    assert protocol["training"]["joint, guided by ResNet-18"]["loss_weights"]["cls"] == 1.0
    assert protocol["training"]["IFER (reconstruction only)"]["loss_weights"]["cls"] == 0.0

    # A second call reuses the trained enhancers instead of training again.
    before = (tmp_path / "work" / "paper" / "ifer" / "model" / "model.safetensors").stat().st_mtime_ns
    fer_experiments.main([
        "--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
        "--results", str(tmp_path / "res"), "--iterations", "2", "--protocols", "paper",
    ])
    assert (tmp_path / "work" / "paper" / "ifer" / "model" / "model.safetensors").stat().st_mtime_ns == before


def test_fer_experiments_names_missing_classifier(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--classifiers.*train_fer_classifier.py --arch resnet18"):
        fer_experiments.frozen_classifier("resnet18", tmp_path)


def test_ablations_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for sub in ("low", "high"):
            (tmp_path / "sice" / split / sub).mkdir(parents=True)
        for i in range(2):
            high = rng.integers(60, 200, (32, 32, 3), dtype=np.uint8)
            PIL.Image.fromarray(high).save(tmp_path / "sice" / split / "high" / f"{i}.png")
            PIL.Image.fromarray((high // 6).astype(np.uint8)).save(tmp_path / "sice" / split / "low" / f"{i}.png")
    _classifiers(tmp_path / "clf")
    results = ablations.main([
        "--data", str(tmp_path / "sice"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
        "--results", str(tmp_path / "res"), "--iterations", "2", "--batch-size", "2", "--crop", "16",
    ])
    table1, table2 = results["table1"], results["table2"]
    assert [r["arch"] for r in table1.values()] == [
        {"use_fe": False, "use_skip": False}, {"use_fe": False, "use_skip": True},
        {"use_fe": True, "use_skip": False}, {"use_fe": True, "use_skip": True},
    ]
    # Dropping FE blocks or skip fusion removes parameters.
    params = [r["params"] for r in table1.values()]
    assert params[0] < params[1] < params[3] and params[0] < params[2] < params[3]
    # Table 2 grows the loss term by term in the paper's order.
    effective = [{k: v for k, v in r["loss_weights"].items()} for r in table2.values()]
    assert [w["composite"] * w["color"] > 0 for w in effective] == [False, True, True, True, True]
    assert [w["composite"] * w["frequency"] > 0 for w in effective] == [False, False, True, True, True]
    assert [w["composite"] * w["perceptual"] > 0 for w in effective] == [False, False, False, True, True]
    assert [w["composite"] * w["structure"] > 0 for w in effective] == [False, False, False, False, True]
    assert all(np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 for r in (*table1.values(), *table2.values()))
    assert "| FE off, skip off |" in (tmp_path / "res" / "ablations.md").read_text()


def test_fer_data_check_finds_the_blur_of_the_training_faces(tmp_path: Path) -> None:
    from scipy.ndimage import gaussian_filter

    import fer_data_check

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in CLASSES:
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(4):
                face = rng.random((48, 48))
                if split == "train":  # the training faces are blurred with sigma 2 (scipy, not torchvision)
                    face = gaussian_filter(face, 2.0, mode="reflect")
                PIL.Image.fromarray((face * 255).round().astype(np.uint8)).save(tmp_path / split / c / f"{i}.png")
    results = fer_data_check.main(["--data", str(tmp_path), "--samples", "28", "--results", str(tmp_path / "res")])
    assert results["matching_sigma"] == 2.0
    assert results["rows"]["val"]["sharpness"] > 3 * results["rows"]["train"]["sharpness"]
