"""The experiment drivers (benchmarks/fer_experiments.py, fer_transfer.py, ablations.py) end to end on tiny fixtures.

The numbers they write are checked against values computed here independently
(the classifier run by hand on the same dark faces, the recovered-fraction
formula, SSIM from scikit-image), so a driver that mislabels or misaligns
results fails.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from safetensors.torch import load_file, save_file
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ablations  # noqa: E402
from _fer_data import fer_split  # noqa: E402
import fer_experiments  # noqa: E402
from train_fer_classifier import ARCHS, MEAN, STD, load_classifier  # noqa: E402

from llenhance import Enhancer  # noqa: E402
from llenhance.baselines import global_gamma  # noqa: E402
from llenhance.pretrained import builtin_path  # noqa: E402

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


def _accuracy(net: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``labels`` the classifier ``net`` predicts on images ``x``, normalised as in training (by hand)."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return float((net((x - mean) / std).argmax(1) == labels).float().mean())


def test_fer_experiments_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _faces(tmp_path / "fer", 5, rng)
    _classifiers(tmp_path / "clf")
    results = fer_experiments.main([
        "--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
        "--results", str(tmp_path / "res"), "--iterations", "2", "--protocols", "paper",
    ])
    for name in ("fer_experiments.json", "fer_experiments.md", "fer_experiments_schemes.png",
                 "fer_experiments_confusion_paper_resnet18.png", "fer_experiments_confusion_paper_vgg.png"):
        assert (tmp_path / "res" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "res" / "fer_experiments.json").read_text()) == json.loads(json.dumps(results))
    protocol = results["protocols"]["paper"]
    faces = fer_split("folder", tmp_path / "fer", "val", size=48)
    assert faces.classes == CLASSES  # FER2013 class folders keep the FER2013 label order
    low, normal, labels = fer_experiments.dark_test_set(faces, "paper")
    assert len(labels) == 35 and bool((low.mean((1, 2, 3)) < normal.mean((1, 2, 3))).all())

    # The classifier run here by hand on the same faces gives the reported accuracies.
    for arch in ("resnet18", "vgg"):
        net = load_classifier(arch, tmp_path / "clf" / f"fer-{arch}" / "model.safetensors")
        rows = protocol["classifiers"][arch]["methods"]
        acc_normal = _accuracy(net, normal, labels)
        acc_low = _accuracy(net, low, labels)
        assert rows["normal light"]["accuracy"] == pytest.approx(acc_normal)
        assert rows["none (low light)"]["accuracy"] == pytest.approx(acc_low)
        cm = torch.tensor(rows["none (low light)"]["confusion_matrix"])
        assert int(cm.sum()) == 35 and cm.sum(1).tolist() == [5] * 7
        for name, row in rows.items():
            if row["recovered_fraction"] is not None:
                expected = (row["accuracy"] - acc_low) / (acc_normal - acc_low)
                assert row["recovered_fraction"] == pytest.approx(expected)

    # Quality of the IFER enhancer's output, recomputed with scikit-image's SSIM.
    ifer = Enhancer.from_pretrained(tmp_path / "work" / "seed0" / "paper" / "ifer" / "model").eval()
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

    # Well-lit change, by hand: the well-lit faces through the global gamma curve, classified.
    net = load_classifier("resnet18", tmp_path / "clf" / "fer-resnet18" / "model.safetensors")
    lit = _accuracy(net, global_gamma(normal).clamp(0, 1), labels)
    rows = protocol["classifiers"]["resnet18"]["methods"]
    assert rows["global gamma"]["well_lit_change"] == pytest.approx(lit - rows["normal light"]["accuracy"])

    # Each run records which classifier weights guided it (SHA-256 of the file), so a retrained one is noticed.

    digest = hashlib.sha256((tmp_path / "clf" / "fer-vgg" / "model.safetensors").read_bytes()).hexdigest()[:16]
    run = tmp_path / "work" / "seed0" / "paper"
    assert json.loads((run / "joint-vgg" / "recipe.json").read_text())["guides"] == {"vgg": digest}
    assert json.loads((run / "ifer" / "recipe.json").read_text())["guides"] == {}

    # A second call with two seeds reuses seed 0's enhancers, trains seed 1's, and reports the mean over both.
    before = (tmp_path / "work" / "seed0" / "paper" / "ifer" / "model" / "model.safetensors").stat().st_mtime_ns
    two = fer_experiments.main([
        "--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
        "--results", str(tmp_path / "res"), "--iterations", "2", "--protocols", "paper", "--seeds", "0", "1",
        "--joint-from-ifer",
    ])
    for seed in (0, 1):  # scheme 7 starts from the IFER weights of its own seed
        run = tmp_path / "work" / f"seed{seed}" / "paper" / "ifer-joint-resnet18" / "model" / "training.json"
        assert json.loads(run.read_text())["start"] == "IFER weights of the same seed and protocol"
    assert "joint from IFER weights, guided by ResNet-18" in two["protocols"]["paper"]["schemes"]
    assert (tmp_path / "work" / "seed0" / "paper" / "ifer" / "model" / "model.safetensors").stat().st_mtime_ns == before
    assert (tmp_path / "work" / "seed1" / "paper" / "curve-joint-resnet18" / "model" / "model.safetensors").is_file()
    for name, first_row in rows.items():  # the methods of the first run: seed 0 is reused, not retrained
        row, first = two["protocols"]["paper"]["classifiers"]["resnet18"]["methods"][name], first_row["accuracy"]
        assert row["accuracy_seeds"][0] == pytest.approx(first), name
        assert row["accuracy"] == pytest.approx(np.mean(row["accuracy_seeds"])), name
        assert row["accuracy_sd"] == pytest.approx(np.std(row["accuracy_seeds"], ddof=1), abs=1e-12), name


def test_fer_experiments_names_missing_classifier(tmp_path: Path) -> None:
    from _fer_eval import frozen_classifier

    with pytest.raises(FileNotFoundError, match="--classifiers.*train_fer_classifier.py --arch resnet18"):
        frozen_classifier("resnet18", tmp_path)
    from _fer_eval import frozen_classifier_from

    # a folder from either option: the message names both
    with pytest.raises(FileNotFoundError, match="--classifiers` or `--classifier-dir` expected .*fer-vgg"):
        frozen_classifier_from("vgg", tmp_path / "fer-vgg")
    with pytest.raises(SystemExit):  # argparse's error: an architecture the script does not know
        fer_experiments.main(["--classifiers", str(tmp_path), "--classifier-dir", "resnet50", str(tmp_path)])


def test_fer_experiments_classifier_dir(tmp_path: Path) -> None:
    """``--classifier-dir`` scores, guides and quotes the classifier in that folder, not the default one."""
    rng = np.random.default_rng(1)
    _faces(tmp_path / "fer", 5, rng)  # 35 training faces: one batch of 32
    _classifiers(tmp_path / "clf")
    other = tmp_path / "other"
    other.mkdir()
    torch.manual_seed(7)
    save_file({k: v.half().contiguous() if v.is_floating_point() else v
               for k, v in ARCHS["resnet18"]().state_dict().items()}, other / "model.safetensors")
    (other / "training.json").write_text(json.dumps({"arch": "resnet18", "val_accuracy": 0.25, "command": "other"}))
    results = fer_experiments.main([
        "--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
        "--results", str(tmp_path / "res"), "--iterations", "1", "--protocols", "paper", "--archs", "resnet18",
        "--classifier-dir", "resnet18", str(other),
    ])
    assert results["classifier_training"]["resnet18"]["command"] == "other"
    digest = hashlib.sha256((other / "model.safetensors").read_bytes()).hexdigest()[:16]
    run = tmp_path / "work" / "seed0" / "paper" / "joint-resnet18"
    assert json.loads((run / "recipe.json").read_text())["guides"] == {"resnet18": digest}
    faces = fer_split("folder", tmp_path / "fer", "val", size=48)
    _, normal, labels = fer_experiments.dark_test_set(faces, "paper")
    net = load_classifier("resnet18", other / "model.safetensors")
    acc = _accuracy(net, normal, labels)
    row = results["protocols"]["paper"]["classifiers"]["resnet18"]["methods"]["normal light"]
    assert row["accuracy"] == pytest.approx(acc)


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
    # the rows with the perceptual term name the classifier weights it used; after the classifier is retrained
    # their run folders are refused (the difference named), never deleted; the other rows are reused

    weights = tmp_path / "clf" / "fer-resnet18" / "model.safetensors"
    assert [r["feature_net_weights"] for r in table2.values()][2:] == [
        None, hashlib.sha256(weights.read_bytes()).hexdigest()[:16], hashlib.sha256(weights.read_bytes()).hexdigest()[:16]]
    reused = (tmp_path / "work" / "l1---mse" / "result.json").stat().st_mtime_ns
    retrained = tmp_path / "work" / "perceptual--fer-resnet-18-features" / "result.json"
    before = json.loads(retrained.read_text())["feature_net_weights"]
    torch.manual_seed(7)
    save_file({k: v.half().contiguous() if v.is_floating_point() else v
               for k, v in ARCHS["resnet18"]().state_dict().items()}, weights)
    args = ["--data", str(tmp_path / "sice"), "--classifiers", str(tmp_path / "clf"), "--results", str(tmp_path / "res"),
            "--iterations", "2", "--batch-size", "2", "--crop", "16"]
    with pytest.raises(SystemExit, match=r"perceptual--fer-resnet-18-features holds a run of another recipe "
                                         r"\(feature_net_weights: "):
        ablations.main([*args, "--work", str(tmp_path / "work")])
    assert (tmp_path / "work" / "l1---mse" / "result.json").stat().st_mtime_ns == reused
    assert json.loads(retrained.read_text())["feature_net_weights"] == before  # kept, not deleted
    again = ablations.main([*args, "--work", str(tmp_path / "fresh")])
    after = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    assert after != before
    assert again["table2"]["+ perceptual (FER ResNet-18 features)"]["feature_net_weights"] == after


def test_fer_transfer_end_to_end(tmp_path: Path) -> None:
    import fer_transfer

    rng = np.random.default_rng(0)
    _faces(tmp_path / "fer", 4, rng)
    _classifiers(tmp_path / "clf")
    for arch in ARCHS:  # the record the table quotes
        (tmp_path / "clf" / f"fer-{arch}" / "training.json").write_text(
            json.dumps({"val_accuracy": 0.5, "command": f"train {arch}"}))
    args = ["--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--work", str(tmp_path / "work"),
            "--results", str(tmp_path / "res"), "--iterations", "2", "--long-iterations", "3", "--long-continue", "2",
            "--continue-lr", "1e-4", "--seeds", "0", "1", "--archs", "resnet18", "vgg"]
    results = fer_transfer.main(args)
    assert json.loads((tmp_path / "res" / "fer_transfer.json").read_text()) == json.loads(json.dumps(results))
    assert (tmp_path / "res" / "fer_transfer.png").stat().st_size > 0
    faces = fer_split("folder", tmp_path / "fer", "val", size=48)
    guided = "curve + LLENet, FER-guided by the other architectures"
    for arch in ("resnet18", "vgg"):
        net = load_classifier(arch, tmp_path / "clf" / f"fer-{arch}" / "model.safetensors")

        # the global gamma row, recomputed here: mean grey 0.45 per face, then the classifier
        low, normal, labels = fer_experiments.dark_test_set(faces, "realistic")
        luma = (low * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1).mean((1, 2)).clamp(1e-4, 0.999)
        gamma = low.clamp_min(0) ** (np.log(0.45) / luma.log()).view(-1, 1, 1, 1)
        row = results["raw"]["global gamma (mean grey -> 0.45)"][arch][0]
        acc_low, acc_normal = _accuracy(net, low, labels), _accuracy(net, normal, labels)
        assert row["acc_realistic"] == pytest.approx(_accuracy(net, gamma.clamp(0, 1), labels))
        if acc_low != acc_normal:
            assert row["recovered_realistic"] == pytest.approx((row["acc_realistic"] - acc_low) / (acc_normal - acc_low))
        assert row["normal_change"] == pytest.approx(row["acc_normal"] - acc_normal)
        # "none" changes nothing on well-lit faces
        assert results["raw"]["none"][arch][0]["normal_change"] == 0.0
        # the FER-guided enhancer held out for `arch` was guided by the other architecture only, once per seed
        other = "vgg" if arch == "resnet18" else "resnet18"
        for seed in (0, 1):
            record = json.loads((tmp_path / "work" / f"guided-without-{arch}-seed{seed}" / "model" /
                                 "training.json").read_text())
            assert record["guides"] == [other] and record["config"]["loss_weights"]["cls"] == 1.0
        assert len(results["raw"][guided][arch]) == 2
        stats = results["held_out"][arch][guided]["acc_paper"]
        values = [r["acc_paper"] for r in results["raw"][guided][arch]]
        assert stats["mean"] == pytest.approx(np.mean(values)) and stats["sd"] == pytest.approx(np.std(values, ddof=1))
    # the long reconstruction-only run: its own schedule and folder, no guide, scored on every classifier
    long = "curve + LLENet (stem stride 1), reconstruction only, 3 iterations"
    for seed in (0, 1):
        record = json.loads((tmp_path / "work" / f"curve-rec-s1-3its-seed{seed}" / "model" / "training.json").read_text())
        assert record["iterations"] == 3 and record["guides"] == [] and record["curve_target"] == 0.45
        assert Enhancer.from_pretrained(tmp_path / "work" / f"curve-rec-s1-3its-seed{seed}" / "model").network.stem_stride == 1
        short = json.loads((tmp_path / "work" / f"curve-rec-seed{seed}" / "model" / "training.json").read_text())
        assert short["iterations"] == 2
        assert Enhancer.from_pretrained(tmp_path / "work" / f"curve-rec-seed{seed}" / "model").network.stem_stride == 2
    assert all(len(results["raw"][long][a]) == 2 for a in ("resnet18", "vgg"))
    # its second stage: started from the first stage's weights, 2 more iterations at --continue-lr, another seed
    continued = "curve + LLENet (stem stride 1), reconstruction only, 3 + 2 iterations"
    for seed in (0, 1):
        first = tmp_path / "work" / f"curve-rec-s1-3its-seed{seed}" / "model"
        folder = tmp_path / "work" / f"curve-rec-s1-3its+2its-seed{seed}" / "model"
        record = json.loads((folder / "training.json").read_text())
        assert record["iterations"] == 2 and record["seed"] == seed + 10 and record["guides"] == []
        assert record["config"]["lr"] == 1e-4 and record["curve_target"] == 0.45
        assert record["init"] == {"folder": str(first),
                                  "weights": hashlib.sha256((first / "model.safetensors").read_bytes()).hexdigest()[:16]}
        second = Enhancer.from_pretrained(folder)
        assert second.network.stem_stride == 1
        start = Enhancer.from_pretrained(first).state_dict()
        moved = [k for k, v in second.state_dict().items() if not torch.equal(v, start[k])]
        assert moved  # trained further, from those weights (same architecture, same names)
    assert list(results["raw"])[-2:] == [long, continued]
    assert "the last row: 2 more from those weights, Adam 1e-4" in (tmp_path / "res" / "fer_transfer.md").read_text()
    # the mean over held-out classifiers is the mean of the per-classifier means
    for name in ("none", guided):
        expected = np.mean([results["held_out"][a][name]["acc_paper"]["mean"] for a in ("resnet18", "vgg")])
        assert results["mean_over_held_out"][name]["acc_paper"]["mean"] == pytest.approx(expected)
    # --train-only trains the named runs for each seed and evaluates nothing
    common = args[: args.index("--seeds")]  # data, folders, iterations; all three architectures
    assert fer_transfer.main([*common, "--seeds", "5", "--train-only", "guided-without-vgg"]) == {}
    record = json.loads((tmp_path / "work" / "guided-without-vgg-seed5" / "model" / "training.json").read_text())
    assert record["guides"] == ["resnet18", "convnext_atto"] and record["seed"] == 5
    # several stages: each from the weights of the one before, its own learning rate and data seed
    staged = [*common, "--seeds", "0", "--long-continue", "2", "1", "--continue-lr", "1e-4", "5e-5", "--device", "cpu"]
    assert fer_transfer.main([*staged, "--train-only", "curve-rec-s1-3its+2its+1its"]) == {}
    second = tmp_path / "work" / "curve-rec-s1-3its+2its-seed0" / "model"
    third = json.loads((tmp_path / "work" / "curve-rec-s1-3its+2its+1its-seed0" / "model" / "training.json").read_text())
    assert third["iterations"] == 1 and third["seed"] == 20 and third["config"]["lr"] == 5e-5
    assert third["device_last_session"] == "cpu"  # where the stage was trained (a resume may move it)
    assert third["init"] == {"folder": str(second),
                             "weights": hashlib.sha256((second / "model.safetensors").read_bytes()).hexdigest()[:16]}
    with pytest.raises(SystemExit):
        fer_transfer.main([*args, "--train-only", "nope"])
    with pytest.raises(SystemExit):
        fer_transfer.main([*args, "--long-iterations", "-1"])
    for bad in (["--long-continue", "-1"], ["--long-iterations", "0"], ["--continue-lr", "0"],
                ["--long-continue", "2", "0"], ["--long-continue", "2", "1", "--continue-lr", "1e-4", "1e-4", "1e-4"]):
        with pytest.raises(SystemExit):
            fer_transfer.main([*args, *bad])
    text = (tmp_path / "res" / "fer_transfer.md").read_text()
    assert "## Held out: ResNet-18 (FER-guided enhancers guided by VGG-style CNN)" in text

    # the model card's table: one seed of the last row, beside no enhancement and gamma, per classifier
    import face_card

    card = face_card.main(["--results", str(tmp_path / "res" / "fer_transfer.json"), "--seed", "1"])
    mine, none = results["raw"][continued]["vgg"][1], results["raw"]["none"]["vgg"][0]
    line = next(x for x in card.splitlines() if x.startswith("| VGG-style CNN"))
    assert line == (f"| VGG-style CNN ({100 * none['acc_normal']:.2f}) | none | {100 * none['acc_paper']:.2f} | "
                    f"{100 * none['acc_realistic']:.2f} | {100 * none['acc_normal']:.2f} |")
    ours = card.splitlines()[card.splitlines().index(line) + 2]
    assert ours.startswith(f"| | **llenet-faces** | **{100 * mine['acc_paper']:.2f} (")
    assert f"value: {100 * mine['acc_realistic']:.2f}" in card and card.count("- task:") == 3  # one per condition
    with pytest.raises(SystemExit):
        face_card.main(["--results", str(tmp_path / "res" / "fer_transfer.json"), "--seed", "7"])

    # A retrained guide classifier: the runs it guided are refused, not silently reused; the unguided ones stay.
    torch.manual_seed(7)
    state = ARCHS["vgg"]().state_dict()
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in state.items()},
              tmp_path / "clf" / "fer-vgg" / "model.safetensors")
    with pytest.raises(SystemExit, match=r"guided-without-resnet18-seed0 holds a run of another recipe \(guides: "):
        fer_transfer.main(args)
    unguided = [*args[: args.index("--seeds")], "--seeds", "0", "--archs", "resnet18", "vgg", "--skip-guided"]
    assert fer_transfer.main(unguided)["raw"]

    # --classifier-dir reads one architecture from another folder (another recipe): scored with those weights
    other = tmp_path / "other-resnet18"
    other.mkdir()
    torch.manual_seed(11)
    save_file({k: v.half().contiguous() if v.is_floating_point() else v
               for k, v in ARCHS["resnet18"]().state_dict().items()}, other / "model.safetensors")
    (other / "training.json").write_text(json.dumps({"val_accuracy": 0.7, "command": "train longer"}))
    swapped = fer_transfer.main([*unguided, "--classifier-dir", "resnet18", str(other)])
    assert swapped["classifiers"]["resnet18"] == {"val_accuracy": 0.7, "command": "train longer"}
    net = load_classifier("resnet18", other / "model.safetensors")
    low, _, labels = fer_experiments.dark_test_set(faces, "paper")
    expected = _accuracy(net, low, labels)
    assert swapped["raw"]["none"]["resnet18"][0]["acc_paper"] == pytest.approx(expected)
    text = (tmp_path / "res" / "fer_transfer.md").read_text()  # no guided rows: the text says so
    assert "no FER-guided enhancers in this run" in text and "## ResNet-18\n" in text and "Held out" not in text
    with pytest.raises(SystemExit):
        fer_transfer.main([*unguided, "--classifier-dir", "resnet50", str(other)])

    # A retrained first stage: its second stage, started from the old weights, is refused, not reused
    from llenhance import llenet_s

    torch.manual_seed(5)
    llenet_s(curve_target=0.45, stem_stride=1).save_pretrained(tmp_path / "work" / "curve-rec-s1-3its-seed0" / "model")
    with pytest.raises(SystemExit, match=r"curve-rec-s1-3its.2its-seed0 holds a run of another recipe \(init: "):
        fer_transfer.main([*common, "--seeds", "0", "--train-only", "curve-rec-s1-3its+2its"])


def test_fer_transfer_refuses_to_reuse_a_run_made_with_another_recipe(tmp_path: Path) -> None:
    import fer_transfer

    _faces(tmp_path / "fer", 3, np.random.default_rng(3))
    faces = fer_split("folder", tmp_path / "fer", "train", size=48)
    recipe = {"seed": 0, "iterations": 2, "curve_target": 0.45, "normal_fraction": 0.25, "guides": [],
              "classifiers": {}, "lr": 1e-3}
    fer_transfer.train(tmp_path / "run", faces, **recipe)
    weights = tmp_path / "run" / "model" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    fer_transfer.train(tmp_path / "run", faces, **recipe)  # the same recipe: reused
    assert weights.stat().st_mtime_ns == stamp
    for change, named in (({"normal_fraction": 0.5}, "normal_fraction: 0.25 in the folder, 0.5 now"),
                          ({"lr": 2e-3}, "lr: 0.001 in the folder"), ({"frozen": "encoder."}, "frozen: None in the folder")):
        with pytest.raises(SystemExit, match=named):
            fer_transfer.train(tmp_path / "run", faces, **{**recipe, **change})
    assert weights.stat().st_mtime_ns == stamp
    # a run not finished yet is held to the recipe it started with
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "recipe.json").write_text(json.dumps({**{k: recipe[k] for k in ("seed", "iterations", "lr")},
                                                              "normal_fraction": 0.5, "frozen": None}))
    with pytest.raises(SystemExit, match="holds a run of another recipe"):
        fer_transfer.train(tmp_path / "half", faces, **recipe)
    assert not (tmp_path / "half" / "model").exists()


def test_run_all_classifier_steps(tmp_path: Path) -> None:
    import argparse

    import run_all

    cmds = run_all.commands(argparse.Namespace(work=tmp_path, results=tmp_path / "res", quick=False))

    def value(cmd: list[str], option: str) -> str | None:
        return cmd[cmd.index(option) + 1] if option in cmd else None

    strong = cmds["classifier-resnet18-40ep-strong"]
    assert value(strong, "--augment") == "strong" and value(strong, "--epochs") == "40"
    assert value(strong, "--output") == str(tmp_path / "fer-resnet18-40ep-strong")
    assert value(strong, "--name") == "fer_classifier_resnet18_40ep_strong"
    fine = cmds["classifier-resnet18_s1-16ep"]
    assert value(fine, "--arch") == "resnet18_s1" and value(fine, "--epochs") == "16"
    assert value(fine, "--output") == str(tmp_path / "fer-resnet18_s1-16ep")
    assert value(fine, "--name") == "fer_classifier_resnet18_s1_16ep"
    long_ferplus = cmds["classifier-ferplus-resnet18-24ep"]
    assert value(long_ferplus, "--dataset") == "ferplus" and value(long_ferplus, "--epochs") == "24"
    assert value(long_ferplus, "--output") == str(tmp_path / "ferplus-resnet18-24ep")
    assert value(long_ferplus, "--name") == "fer_classifier_ferplus_resnet18_24ep"
    fine_ferplus = cmds["classifier-ferplus-resnet18_s1-16ep"]
    assert value(fine_ferplus, "--arch") == "resnet18_s1" and value(fine_ferplus, "--dataset") == "ferplus"
    assert value(fine_ferplus, "--output") == str(tmp_path / "ferplus-resnet18_s1-16ep")
    assert value(fine_ferplus, "--name") == "fer_classifier_ferplus_resnet18_s1_16ep"
    # the plug-in / retrain comparison reads the 12-epoch ConvNeXt, whose step writes exactly that folder
    convnext = cmds["classifier-convnext_atto-12ep"]
    assert value(convnext, "--epochs") == "12" and value(convnext, "--name") == "fer_classifier_convnext_atto_12ep"
    pvr = cmds["plugin-vs-retrain"]
    readers = pvr[pvr.index("--readers") + 1:]
    assert f"convnext_atto={value(convnext, '--output')}" in readers
    assert f"vgg={value(cmds['classifier-vgg'], '--output')}" in readers
    assert f"resnet18={value(cmds['classifier-resnet18'], '--output')}" in readers
    ferplus = cmds["classifier-ferplus-resnet18"]  # the published recipes: default folder and result name
    assert value(ferplus, "--output") == str(tmp_path / "ferplus-resnet18") and value(ferplus, "--name") is None
    assert value(ferplus, "--augment") is None and value(cmds["classifier-resnet18"], "--epochs") == "12"
    # every step has its command; the transfer table with other readers reads the folders their steps write
    assert set(cmds) == set(run_all.STEPS)
    for step, classifier in (("fer-transfer-resnet18-40ep", "classifier-resnet18-40ep"),
                             ("fer-transfer-resnet18_s1-20ep", "classifier-resnet18_s1-20ep")):
        other = cmds[step]
        assert other[other.index("--classifier-dir") + 2] == value(cmds[classifier], "--output")
        assert value(other, "--work") == value(cmds["fer-transfer"], "--work")
    # each option a step passes is one its script (or the shared argument helpers) defines
    here = Path(run_all.__file__).parent
    shared = "".join((here / f).read_text() for f in ("_fer_eval.py", "_fer_data.py"))
    from llenhance.cli import build_parser

    for step, cmd in cmds.items():
        if cmd[1:3] == ["-m", "llenhance.cli"]:  # the library's command: its own parser takes the arguments
            build_parser().parse_args(cmd[3:])
            continue
        source = Path(cmd[1]).read_text() + shared
        unknown = [o for o in cmd[2:] if o.startswith("--") and f'"{o}"' not in source]
        assert not unknown, (step, unknown)
    # the quick smoke run leaves the extra recipes' published results alone
    assert "classifier-resnet18" in run_all.QUICK_STEPS
    assert not any(s.startswith("classifier-resnet18-40ep") for s in run_all.QUICK_STEPS)
    args = argparse.Namespace(work=tmp_path)
    assert not run_all.done("classifier-resnet18-40ep-strong", args)
    (tmp_path / "fer-resnet18-40ep-strong").mkdir()
    for name in ("model.safetensors", "training.json"):
        (tmp_path / "fer-resnet18-40ep-strong" / name).write_text("")
    assert run_all.done("classifier-resnet18-40ep-strong", args) and not run_all.done("classifier-vgg", args)


def test_resnet18_stems_set_the_feature_map_size() -> None:
    """The 48x48 ResNet-18s: layer1 at 12x12 with the stride-2 stem, at 24x24 with the stride-1 one."""
    x = torch.rand(1, 3, 48, 48)
    seen: list[torch.Size] = []
    for arch, size in (("resnet18", 12), ("resnet18_s1", 24)):
        net = ARCHS[arch](num_classes=7).eval()
        net.layer1.register_forward_hook(lambda module, inputs, out: seen.append(out.shape[-2:]))
        assert net(x).shape == (1, 7)
        assert tuple(seen[-1]) == (size, size)


def test_classifier_variant_is_built_from_its_record(tmp_path: Path) -> None:
    """A resnet18_s1 folder held out as "resnet18" gets the stride-1 network; another family is refused."""
    from _fer_eval import frozen_classifier_from

    torch.manual_seed(0)
    fine = ARCHS["resnet18_s1"](num_classes=7).eval()
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in fine.state_dict().items()},
              tmp_path / "model.safetensors")
    (tmp_path / "training.json").write_text(json.dumps({"arch": "resnet18_s1"}))
    frozen = frozen_classifier_from("resnet18", tmp_path)
    x = torch.rand(2, 3, 48, 48)
    expected = load_classifier("resnet18_s1", tmp_path / "model.safetensors")((x - 0.5) / 0.25)
    torch.testing.assert_close(frozen(x), expected)
    assert frozen.classifier.conv1.stride == (1, 1)
    with pytest.raises(SystemExit, match="vgg classifier was expected .* records a resnet18_s1"):
        frozen_classifier_from("vgg", tmp_path)


def test_fer_transfer_writes_learning_rates_as_powers_of_ten() -> None:
    import fer_transfer

    assert [fer_transfer._rate(x) for x in (5e-4, 2.5e-4, 1e-3, 0.1)] == ["5e-4", "2.5e-4", "1e-3", "1e-1"]


def test_command_line_writes_home_as_tilde() -> None:
    import _command

    home = str(Path.home())
    assert (_command.command_line("x.py", ["--work", f"{home}/a", "--n", "1"])
            == "python benchmarks/x.py --work ~/a --n 1")
    assert _command.command_line("x.py", []) == "python benchmarks/x.py"
    assert _command.tilde(f"| `{home}/w` | {home}x |") == "| `~/w` | ~x |"


def test_export_builtin_keeps_the_card_and_records_the_command(tmp_path: Path) -> None:
    import export_builtin

    from llenhance import llenet_s

    run = tmp_path / "run"
    torch.manual_seed(0)
    net = llenet_s(curve_target=0.45, stem_stride=1)
    net.save_pretrained(run)
    (run / "training.json").write_text(json.dumps({"iterations": 3, "seed": 1}))
    weights = tmp_path / "weights"
    (weights / "faces").mkdir(parents=True)
    (weights / "faces" / "README.md").write_text("our card")
    target = export_builtin.main([str(run), "faces", "--command", "python train.py --seed 1"], weights=weights)
    assert (target / "README.md").read_text() == "our card"
    summary = json.loads((target / "summary.json").read_text())
    assert summary == {"command": f"python train.py --seed 1 && python benchmarks/export_builtin.py {run} faces",
                       "iterations": 3, "seed": 1}
    loaded = Enhancer.from_pretrained(target)
    assert loaded.network.stem_stride == 1 and loaded.curve_target == 0.45
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(SystemExit):  # no training record
        export_builtin.main([str(tmp_path / "weights"), "x", "--command", "c"], weights=weights)
    with pytest.raises(SystemExit):  # the command is required
        export_builtin.main([str(run), "faces"], weights=weights)
    # a built-in as the source, stored with an exposure gate: same weights, its record and command kept
    gated = export_builtin.main(["llenet-sice", "photo", "--exposure-gate", "0.2", "0.35"], weights=weights)
    loaded = Enhancer.from_pretrained(gated)
    source = Enhancer.from_pretrained("llenet-sice")
    assert loaded.exposure_gate == (0.2, 0.35) and source.exposure_gate is None
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), loaded.state_dict().values()))
    summary = json.loads((gated / "summary.json").read_text())
    original = json.loads((builtin_path("llenet-sice") / "summary.json").read_text())
    assert summary["command"] == (original["command"]
                                  + " && python benchmarks/export_builtin.py llenet-sice photo --exposure-gate 0.2 0.35")
    assert summary["exposure_gate"] == [0.2, 0.35] and summary["iterations"] == original["iterations"]
    with pytest.raises(SystemExit):  # a bad gate is refused by name
        export_builtin.main(["llenet-sice", "x", "--exposure-gate", "0.5", "0.2"], weights=weights)
    # an output target the same way, next to the gate the source already has
    targeted = export_builtin.main(["llenet-photo", "photo2", "--output-target", "0.4"], weights=weights)
    loaded = Enhancer.from_pretrained(targeted)
    assert loaded.output_target == 0.4 and loaded.exposure_gate == Enhancer.from_pretrained("llenet-photo").exposure_gate
    summary = json.loads((targeted / "summary.json").read_text())
    assert summary["output_target"] == 0.4 and summary["command"].endswith("photo2 --output-target 0.4")
    with pytest.raises(SystemExit):
        export_builtin.main(["llenet-sice", "x", "--output-target", "1.5"], weights=weights)


def test_train_speed_reports_medians_of_alternating_turns(tmp_path: Path) -> None:
    """Each figure is the median of its turns and the ratios are taken from those medians."""
    import train_speed

    out = train_speed.main(["--models", "llenet_s", "--modes", "reconstruction", "--iterations", "1",
                            "--warmup", "1", "--repeats", "3", "--threads", "1", "--results", str(tmp_path)])
    (row,) = out["rows"]
    turns = row["repeats_its"]
    assert [len(turns[k]) for k in ("trainer", "bare", "bare_checked")] == [3, 3, 3]
    assert row["trainer_its"] == sorted(turns["trainer"])[1] and row["bare_its"] == sorted(turns["bare"])[1]
    assert row["overhead"] == pytest.approx(row["bare_its"] / row["trainer_its"])
    assert row["checks_cost"] == pytest.approx(row["bare_its"] / sorted(turns["bare_checked"])[1])
    assert "--repeats 3" in out["meta"]["command"]
    assert "--models llenet_s --modes reconstruction" in out["meta"]["command"]  # the rerun times what this one did
    assert json.loads((tmp_path / "train_speed.json").read_text())["rows"][0]["repeats_its"] == turns
    assert "median of 3 turns" in (tmp_path / "train_speed.md").read_text()
    for bad in (["--repeats", "0"], ["--amp"]):  # bfloat16 autocast is CUDA-only: a parser error, no stack trace
        with pytest.raises(SystemExit):
            train_speed.main([*bad, "--results", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()


def test_sample_images_red_shift_follows_scikit_image_lab() -> None:
    """Hue shift and chroma ratio on the original's red pixels, against scikit-image's CIE Lab."""
    import sample_images
    from skimage.color import rgb2lab

    def image(*rgb: float) -> torch.Tensor:
        return torch.tensor(rgb).view(3, 1, 1).expand(3, 4, 4).clone()

    def lab_hue_chroma(*rgb: float) -> tuple[float, float]:
        _, a, b = rgb2lab([[rgb]])[0, 0]
        return math.degrees(math.atan2(b, a)), math.hypot(a, b)

    red, orange = (0.8, 0.1, 0.1), (0.8, 0.5, 0.1)
    same = sample_images.red_shift(image(*red), image(*red))
    assert same["red_pixels"] == 16 and same["red_hue_shift"] == pytest.approx(0, abs=1e-3)
    assert same["red_chroma_ratio"] == pytest.approx(1)
    (h_red, c_red), (h_orange, c_orange) = lab_hue_chroma(*red), lab_hue_chroma(*orange)
    assert -10 < h_red < 50 < h_orange  # the original is red, the output is not
    moved = sample_images.red_shift(image(*orange), image(*red))
    assert moved["red_hue_shift"] == pytest.approx(h_orange - h_red, abs=0.1)
    assert moved["red_chroma_ratio"] == pytest.approx(c_orange / c_red, rel=1e-3)
    grey = sample_images.red_shift(image(0.5, 0.5, 0.5), image(0.5, 0.5, 0.5))
    assert grey["red_pixels"] == 0  # no chroma: no red pixel to score


def test_exposure_sweep_scales_frames_and_scores_against_them(tmp_path: Path) -> None:
    import exposure_sweep

    from tests.conftest import shared_data

    frame = torch.rand(3, 16, 16) * 0.5 + 0.25
    out = exposure_sweep.scaled(frame, 0.1)
    luma = 0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2]
    assert abs(float(luma.mean()) - 0.1) < 1 / 255  # the level, up to 8-bit rounding
    assert torch.equal(out, (out * 255).round() / 255)
    factor = 0.1 / float((0.299 * frame[0] + 0.587 * frame[1] + 0.114 * frame[2]).mean())
    assert float((out - frame * factor).abs().max()) <= 0.5 / 255 + 1e-6  # a scaling, then 8-bit rounding

    shared_data("sice", "val")
    result = exposure_sweep.main(["--frames-limit", "1", "--levels", "0.1", "--threads", "1", "--weights",
                                  "llenet-photo", "--results", str(tmp_path)])
    rows = {(r["level"], r["method"]): r for r in result["rows"]}
    gated = rows[("orig", "LLENet (llenet-photo)")]
    assert gated["psnr"] == 100.0 and gated["grey_shift"] == 0.0 and gated["share"] == 0.0  # passthrough
    assert rows[(0.1, "LLENet (llenet-photo)")]["share"] == 1.0
    dark = rows[(0.1, "identity (input)")]
    assert dark["grey_shift"] < -0.2  # the frames of SICE val are at 0.35 or more
    assert (tmp_path / "exposure_sweep.md").read_text().count("\n| ") == 8  # header, rule, 2 levels x 3 methods


def test_quality_reuses_baseline_rows_and_names_their_command(tmp_path: Path) -> None:
    import quality

    from tests.conftest import shared_data

    shared_data("sice", "val")
    shared_data("dicm")
    first = quality.main(["--pairs-limit", "1", "--niqe-limit", "1", "--threads", "1", "--weights", "llenet-photo",
                          "--ungated", "--results", str(tmp_path / "a")])
    gated, bare = (next(r for r in first["rows"] if r["method"] == f"LLENet (llenet-photo{s})") for s in ("", ", no gate"))
    assert gated["passthrough_psnr"] == 100.0 and bare["passthrough_psnr"] < 100.0  # the gate is what passes them
    assert gated["psnr"] == bare["psnr"]  # the dark pair gets all of the change
    second = quality.main(["--pairs-limit", "1", "--niqe-limit", "1", "--threads", "1", "--weights", "llenet-sice",
                           "--reuse", str(tmp_path / "a" / "quality.json"), "--results", str(tmp_path / "b")])
    baselines = [r for r in first["rows"] if not r["method"].startswith("LLENet")]
    assert len(first["rows"]) == len(baselines) + 2
    assert second["rows"][: len(baselines)] == baselines  # taken as they were
    assert [r["method"] for r in second["rows"][len(baselines):]] == ["LLENet (llenet-sice)"]  # weights: computed
    assert second["meta"]["reused"]["command"] == first["meta"]["command"]
    third = quality.main(["--pairs-limit", "1", "--niqe-limit", "1", "--threads", "1", "--weights", "llenet-sice",
                          "--reuse", str(tmp_path / "b" / "quality.json"), "--results", str(tmp_path / "c")])
    assert third["meta"]["reused"]["command"] == first["meta"]["command"]  # the command that computed them
    assert first["meta"]["command"] in (tmp_path / "c" / "quality.md").read_text()
    with pytest.raises(SystemExit):  # made on other data
        quality.main(["--pairs-limit", "2", "--niqe-limit", "1", "--weights", "llenet-sice",
                      "--reuse", str(tmp_path / "a" / "quality.json"), "--results", str(tmp_path / "d")])


def test_niqe_bands_splits_dicm_by_the_inputs_exposure(tmp_path: Path) -> None:
    import niqe_bands

    from tests.conftest import shared_data

    assert niqe_bands.band_names([0.2, 0.35]) == ["below 0.2", "0.2 to 0.35", "0.35 and up"]
    assert [niqe_bands.band_of(v, [0.2, 0.35]) for v in (0.1, 0.2, 0.3, 0.35, 0.9)] == [0, 1, 1, 2, 2]
    # the rest must average (3 * 3 - 4) / 2 = 2.5 for a mean of 3 when the first image keeps its 4
    assert niqe_bands.needed([4.0, 2.0, 3.0], [0, 1, 1], 0, 3.0) == pytest.approx(2.5)
    assert math.isnan(niqe_bands.needed([4.0], [0], 0, 3.0))

    shared_data("dicm")
    result = niqe_bands.main(["--niqe-limit", "4", "--threads", "1", "--weights", "llenet-photo", "--ungated",
                              "--results", str(tmp_path)])
    from llenhance.data import find_images, read_image
    from llenhance._color import grey
    from llenhance.niqe import niqe

    images = [read_image(p).float() / 255 for p in find_images(niqe_bands.DATA / "dicm")[:4]]
    levels = [float(grey(x[None]).mean()) for x in images]
    assert [i["mean_grey"] for i in result["images"]] == pytest.approx(levels)
    inputs = result["per_image"]["identity (input)"]
    assert inputs == pytest.approx([niqe(x) for x in images])
    rows = {r["method"]: r for r in result["rows"]}
    for name, scores in result["per_image"].items():
        assert rows[name]["niqe"] == pytest.approx(sum(scores) / len(scores))
        for k, band in enumerate(niqe_bands.band_names([0.2, 0.35])):
            inside = [s for s, v in zip(scores, levels) if niqe_bands.band_of(v, [0.2, 0.35]) == k]
            assert result["counts"][band] == len(inside)
            if inside:
                assert rows[name]["bands"][band] == pytest.approx(sum(inside) / len(inside))
    gated = result["per_image"]["LLENet (llenet-photo)"]
    for v, out, before in zip(levels, gated, inputs):
        if v >= 0.35:  # above the gate: the photo passes unchanged, so does its score
            assert out == before
    kept = [s for s, v in zip(inputs, levels) if v >= 0.35]
    if kept:
        expected = (3.9 * len(inputs) - sum(kept)) / (len(inputs) - len(kept))
        assert result["needed_elsewhere"]["0.35 and up"] == pytest.approx(expected)
    assert (tmp_path / "niqe_bands.md").read_text().count("\n| ") == 2 + len(rows) + 1
    with pytest.raises(SystemExit):
        niqe_bands.main(["--bands", "0.35", "0.2", "--results", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()


def test_output_target_is_chosen_on_train_and_applied_as_the_model_does(tmp_path: Path) -> None:
    import output_target

    from llenhance import enhance
    from llenhance.data import PairedImageFolder
    from llenhance.metrics import psnr
    from tests.conftest import shared_data

    shared_data("sice", "train")
    shared_data("sice", "val")
    result = output_target.main(["--limit", "1", "--targets", "0.3", "0.4", "--threads", "1",
                                 "--weights", "llenet-photo", "--results", str(tmp_path)])
    rows = {r["target"]: r for r in result["rows"]}
    assert set(rows) == {None, 0.3, 0.4}
    assert result["meta"]["chosen"] == max((0.3, 0.4), key=lambda t: rows[t]["train_psnr"])
    # the val score of a target is what the shipped model with that output_target gives
    low, high = PairedImageFolder(shared_data("sice", "val"))[0]
    model = Enhancer.from_pretrained("llenet-photo", output_target=0.4).eval()
    assert rows[0.4]["val_psnr"] == pytest.approx(float(psnr(enhance(low, model)[None], high[None])), abs=1e-3)
    assert (tmp_path / "output_target.md").read_text().count("\n| ") == 5  # header, rule, 3 targets


def test_fer_readers_scores_saved_weights_as_the_classifier_sees_them(tmp_path: Path) -> None:
    import fer_readers

    rng = np.random.default_rng(3)
    _faces(tmp_path / "fer", 3, rng)
    _classifiers(tmp_path / "clf")
    torch.manual_seed(0)
    saved = Enhancer({"width": 8}, curve_target=0.45)
    torch.nn.init.normal_(saved.network.reconstruct[-2].weight, std=0.05)  # not the bare curve
    saved.save_pretrained(tmp_path / "enh")
    args = ["--data", str(tmp_path / "fer"), "--classifiers", str(tmp_path / "clf"), "--archs", "resnet18", "vgg",
            "--weights", "llenet-faces", str(tmp_path / "enh"), "--results", str(tmp_path / "res" / "readers")]
    results = fer_readers.main(args)
    assert json.loads((tmp_path / "res" / "readers.json").read_text()) == json.loads(json.dumps(results))
    faces = fer_split("folder", tmp_path / "fer", "val", size=48)
    low, normal, labels = fer_experiments.dark_test_set(faces, "realistic")
    builtin = Enhancer.from_pretrained("llenet-faces").eval()
    for arch in ("resnet18", "vgg"):
        net = load_classifier(arch, tmp_path / "clf" / f"fer-{arch}" / "model.safetensors")

        def acc(x: torch.Tensor, net: torch.nn.Module = net) -> float:
            return _accuracy(net, x.clamp(0, 1), labels)

        with torch.no_grad():
            row = results["per_classifier"][arch]["llenet-faces"]
            assert row["acc_realistic"] == pytest.approx(acc(builtin(low)))
            assert row["normal_change"] == pytest.approx(acc(builtin(normal)) - acc(normal))
            acc_low, acc_normal = acc(low), acc(normal)
            if acc_low != acc_normal:
                assert row["recovered_realistic"] == pytest.approx((acc(builtin(low)) - acc_low) / (acc_normal - acc_low))
        assert results["per_classifier"][arch]["none"]["acc_normal"] == pytest.approx(acc_normal)
        assert results["classifiers"][arch]["val_accuracy"] == pytest.approx(acc_normal)
    # the mean row is the mean over the classifiers
    for name in ("llenet-faces", str(tmp_path / "enh")):
        key = next(k for k in results["mean"] if k.endswith(name.split("/")[-1]))
        assert results["mean"][key]["acc_paper"] == pytest.approx(
            np.mean([results["per_classifier"][a][key]["acc_paper"] for a in ("resnet18", "vgg")]))
    text = (tmp_path / "res" / "readers.md").read_text()
    assert "## Mean over the classifiers" in text and "| llenet-faces |" in text
    with pytest.raises(SystemExit):
        fer_readers.main([*args[:-4], "--weights", "no-such-weights", "--results", str(tmp_path / "r2")])


def test_face_colour_scores_against_hand_computed_values(tmp_path: Path) -> None:
    """benchmarks/face_colour.py on a few faces: its cells against the library's metrics run by hand."""
    from tests.conftest import shared_data

    shared_data("faces-colour", "genki4k")
    import face_colour

    from llenhance.baselines import global_gamma
    from llenhance.evaluation import ciede2000
    from llenhance.metrics import accuracy, chroma

    torch.manual_seed(3)
    reader = ARCHS["vgg"](num_classes=2).eval()
    (tmp_path / "genki-vgg").mkdir()
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in reader.state_dict().items()},
              str(tmp_path / "genki-vgg" / "model.safetensors"))
    results = face_colour.main(["--split", "val", "--limit", "6", "--grey-faces", "3", "--threads", "1",
                                "--results", str(tmp_path / "res"), "--readers", f"vgg={tmp_path / 'genki-vgg'}"])
    genki = results["images"]["GENKI-4K"]
    assert genki["faces"] == 6
    assert genki["well-lit"]["identity (input)"]["chroma_kept"] == pytest.approx(1.0)
    faces = face_colour.split_of(face_colour.FERFolder(face_colour.COLOUR / "genki4k", transform=lambda x: x), "val")
    faces = faces[:: len(faces) // 6][:6]
    gamma = global_gamma(faces, target=face_colour.GAMMA_TARGET).clamp(0, 1)
    row = genki["well-lit"][f"global gamma (mean grey -> {face_colour.GAMMA_TARGET})"]
    assert row["ciede2000"] == pytest.approx(float(ciede2000(gamma, faces).mean()), rel=1e-4)
    assert row["chroma_kept"] == pytest.approx(float(chroma(gamma).mean() / chroma(faces).mean()), rel=1e-4)
    assert results["grey"]["llenet-faces"] == 0.0 and results["grey"][face_colour.GREY_OUTPUT] > 0
    scored = results["readers"]["vgg"]["paper"]
    subset = face_colour.fer_split("genki", face_colour.COLOUR / "genki4k", "val", size=64)
    keep = range(0, len(subset), len(subset) // 6)
    images = torch.stack([subset[i][0] for i in keep])
    labels = torch.tensor([subset[i][1] for i in keep])
    logits = reader(((images - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)))
    assert scored["normal_accuracy"] == pytest.approx(accuracy(logits.argmax(1), labels))
    assert (tmp_path / "res" / "face_colour_val.md").read_text().count("| llenet-faces |") >= 4


def test_quality_degraded_scores_clean_frames_darkened_three_ways(tmp_path: Path) -> None:
    import json

    import quality_degraded

    from llenhance.evaluation import darkened_pairs
    from llenhance.metrics import psnr
    from tests.conftest import shared_data

    val = shared_data("sice", "val")
    frames = quality_degraded.distinct_frames(val / "high")
    # an independent count of the scenes: the distinct `high` frames that sice/val's pairs.json names
    assert len(frames) == len({p["high"] for p in json.loads((val / "pairs.json").read_text())})
    result = quality_degraded.main(["--limit", "2", "--threads", "1", "--weights", "llenet-photo", "--protocols",
                                    "paper", "realistic-jpeg75", "--results", str(tmp_path)])
    rows = {(r["protocol"], r["method"]): r for r in result["rows"]}
    for protocol in ("paper", "realistic-jpeg75"):
        pairs = darkened_pairs(frames[:2], protocol)
        expected = sum(float(psnr(d[None], c[None])) for d, c in pairs) / 2
        assert rows[(protocol, "identity (input)")]["psnr"] == pytest.approx(expected, abs=1e-4)
        assert rows[(protocol, "LLENet (llenet-photo)")]["psnr"] > rows[(protocol, "identity (input)")]["psnr"]
    assert "**realistic-jpeg75**" in (tmp_path / "quality_degraded.md").read_text()


def test_plugin_vs_retrain_scores_every_arm_as_computed_by_hand(tmp_path: Path) -> None:
    import statistics

    import plugin_vs_retrain

    from llenhance.evaluation import evaluate_fer

    _faces(tmp_path / "fer", 4, np.random.default_rng(0))
    _classifiers(tmp_path / "clf")
    argv = ["--readers", f"resnet18={tmp_path / 'clf' / 'fer-resnet18'}", f"vgg={tmp_path / 'clf' / 'fer-vgg'}",
            "--data", str(tmp_path / "fer"), "--seeds", "0", "1", "--epochs", "1", "--batch-size", "8",
            "--joint-iterations", "2", "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res"),
            "--threads", "1", "--quiet"]
    results = plugin_vs_retrain.main(argv)
    assert json.loads((tmp_path / "res" / "plugin_vs_retrain.json").read_text()) == json.loads(json.dumps(results))
    assert (tmp_path / "res" / "plugin_vs_retrain.png").stat().st_size > 0
    for reader in ("resnet18", "vgg"):
        assert set(results["readers"][reader]) == {"none", "plugin", "retrain", "retrain+plugin", "joint"}
        for arm in results["readers"][reader].values():
            assert set(arm) >= {"paper", "realistic", "well_lit", "sd"}

    # none and plugin: the library's own FER evaluation of the frozen reader gives the same accuracies
    val = fer_split("folder", tmp_path / "fer", "val", size=48)
    from _fer_eval import frozen_classifier_from

    from llenhance import Enhancer as _Enhancer

    base = frozen_classifier_from("resnet18", tmp_path / "clf" / "fer-resnet18")
    plugin = _Enhancer.from_pretrained("llenet-faces").eval()
    arms = results["readers"]["resnet18"]
    for protocol in ("paper", "realistic"):
        ref = evaluate_fer(base, val, {"plugin": plugin}, darkening=protocol, progress=False)
        assert arms["none"][protocol] == pytest.approx(100 * ref["dark_accuracy"])
        assert arms["plugin"][protocol] == pytest.approx(100 * ref["methods"]["plugin"]["accuracy"])
        assert arms["none"]["well_lit"] == pytest.approx(100 * ref["normal_accuracy"])
        assert arms["plugin"]["well_lit"] == pytest.approx(100 * ref["methods"]["plugin"]["well_lit_accuracy"])

    # retrain, well lit: the saved fine-tuned weights run by hand on the val faces; mean and sd over the seeds
    normal = torch.stack([val[i][0] for i in range(len(val))])
    labels = torch.tensor([val[i][1] for i in range(len(val))])
    by_hand = []
    for seed in (0, 1):
        net = ARCHS["resnet18"]()
        net.load_state_dict(load_file(tmp_path / "work" / f"resnet18-seed{seed}" / "retrain" / "model.safetensors"))
        by_hand.append(100 * _accuracy(net.eval(), normal, labels))
    assert arms["retrain"]["well_lit"] == pytest.approx(statistics.fmean(by_hand), abs=1e-4)
    assert arms["retrain"]["sd"]["well_lit"] == pytest.approx(statistics.stdev(by_hand), abs=1e-4)
    assert results["mean"]["plugin"]["paper"] == pytest.approx(
        (arms["plugin"]["paper"] + results["readers"]["vgg"]["plugin"]["paper"]) / 2)

    # a second call reuses every run folder (nothing retrained) and writes the same numbers
    stamp = (tmp_path / "work" / "vgg-seed1" / "joint" / "model" / "model.safetensors").stat().st_mtime_ns
    assert plugin_vs_retrain.main(argv)["readers"] == results["readers"]
    assert (tmp_path / "work" / "vgg-seed1" / "joint" / "model" / "model.safetensors").stat().st_mtime_ns == stamp
