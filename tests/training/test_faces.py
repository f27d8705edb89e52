"""train_faces / FaceRecipe / `llenhance train faces`: the face enhancer's recipe and its run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import PIL.Image
import pytest
import torch

from llenhance import Enhancer
from llenhance.training import FaceRecipe, FaceStage, train_faces
from llenhance.training.faces import FaceImages, RunFolderError

TINY = FaceRecipe(stages=(FaceStage(2, 1e-3), FaceStage(1, 5e-4)), batch_size=2, width=4, size=16,
                  darkenings=("paper", "realistic-jpeg"), luma_only=True)


@pytest.fixture()
def faces(tmp_path: Path) -> Path:
    """Six small faces in two class folders, grey and colour, of other sizes than the recipe's."""
    torch.manual_seed(0)
    for i in range(6):
        folder = tmp_path / "faces" / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (torch.rand(20, 24, 3) * 255).byte().numpy()
        PIL.Image.fromarray(pixels).convert("L" if i < 3 else "RGB").save(folder / f"{i}.png")
    return tmp_path / "faces"


def test_builtin_recipes() -> None:
    """FaceRecipe() is the recipe of llenet-faces-0.3 (recorded by the experiment script that made it); the
    llenet-faces weights record theirs as a recipe file that --recipe reruns: 1,500 luma steps from those."""
    weights = Path(__file__).resolve().parents[2] / "src" / "llenhance" / "weights"
    current = FaceRecipe.load(weights / "llenet-faces" / "summary.json")
    assert current.init == "llenet-faces-0.3" and current.luma_only and "realistic-jpeg" in current.darkenings
    assert current.stages == (FaceStage(1500, 2.5e-4),)
    shipped = json.loads((weights / "llenet-faces-0.3" / "summary.json").read_text())
    recipe = FaceRecipe()
    assert sum(s.iterations for s in recipe.stages) == 6000 and recipe.stages[1].lr == shipped["config"]["lr"]
    assert recipe.normal_fraction == shipped["normal_fraction"] and recipe.curve_target == shipped["curve_target"]
    assert recipe.seed + recipe.stage_seed_offset == shipped["seed"]  # the second stage's seed


def test_recipe_round_trips_and_refuses_unknown_keys() -> None:
    assert FaceRecipe.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY
    assert FaceRecipe.from_dict({"recipe": TINY.to_dict()}) == TINY  # a training.json
    with pytest.raises(ValueError, match=r"unknown \['colour'\]"):
        FaceRecipe.from_dict({"colour": True})
    with pytest.raises(ValueError, match="`darkenings` expected names"):
        FaceRecipe(darkenings=("moonlight",))
    with pytest.raises(ValueError, match="`stages` expected"):
        FaceRecipe(stages=(FaceStage(0, 1e-3),))


def test_face_images_resize_and_take_every_folder(faces: Path) -> None:
    data = FaceImages(faces, size=16)
    assert len(data) == 6 and data[0].shape == (3, 16, 16) and 0 <= data[0].min() and data[0].max() <= 1
    with pytest.raises(FileNotFoundError, match="`data` expected a folder"):
        FaceImages(faces / "missing", size=16)


def test_trains_resumes_returns_and_refuses(faces: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    model = train_faces(faces, run, TINY, progress=False, command=["llenhance", "train", "faces"])
    assert isinstance(model, Enhancer) and model.luma_only and model.network.width == 4
    record = json.loads((run / "model" / "training.json").read_text())
    assert FaceRecipe.from_dict(record) == TINY and [s["iterations"] for s in record["stages"]] == [2, 1]
    assert [s["seed"] for s in record["stages"]] == [0, 10]
    import os

    umask = os.umask(0)
    os.umask(umask)
    for written in (run / "recipe.json", run / "model" / "training.json", run / "stage-1" / "record.json"):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # atomic writes, the mode open() gives
    assert not list(run.rglob(".llenhance-*"))  # no temporary or lock file left
    # the second stage started from the first one's weights
    assert record["stages"][1]["last"]["iteration"] == 1
    again = train_faces(faces, run, TINY, progress=False)  # finished: returned as it is
    for a, b in zip(again.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    other = FaceRecipe.from_dict({**TINY.to_dict(), "seed": 3, "normal_fraction": 0.5})
    with pytest.raises(RunFolderError, match=r"normal_fraction: 0.25 in the folder, 0.5 now; seed: 0 in the folder"):
        train_faces(faces, run, other, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not a face run folder"):
        train_faces(faces, tmp_path / "busy", TINY, progress=False)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_an_interrupted_stage_resumes(faces: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_faces(faces, run, TINY, progress=False)
    finished = Enhancer.from_pretrained(run / "model")
    # as if stopped after stage 1: stage 2 and the final model are gone, stage 1 is kept
    import shutil

    shutil.rmtree(run / "stage-2")
    shutil.rmtree(run / "model")
    again = train_faces(faces, run, TINY, progress=False)
    for a, b in zip(again.state_dict().values(), finished.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_cli_trains_and_reruns_a_recipe_file(faces: Path, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "llenhance.cli", "train", "faces", *args],
                              capture_output=True, text=True)

    first = cli("--data", str(faces), "--output", str(tmp_path / "one"), "--stages", "2:1e-3", "--batch-size", "2",
                "--width", "4", "--size", "16", "--luma-only", "--device", "cpu")
    assert first.returncode == 0, first.stderr
    recipe = tmp_path / "one" / "model" / "training.json"
    assert "train faces" in json.loads(recipe.read_text())["command"]
    second = cli("--data", str(faces), "--output", str(tmp_path / "two"), "--recipe", str(recipe), "--device", "cpu")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "one" / "recipe.json").read_text() == (tmp_path / "two" / "recipe.json").read_text()
    clash = cli("--data", str(faces), "--output", str(tmp_path / "one"), "--recipe", str(recipe), "--seed", "4")
    assert clash.returncode == 2 and "seed: 0 in the folder, 4 now" in clash.stderr
    bad = cli("--data", str(faces), "--output", str(tmp_path / "three"), "--stages", "2e-3")
    assert bad.returncode == 2 and "ITERATIONS:LR" in bad.stderr


def test_starts_from_given_weights(faces: Path, tmp_path: Path) -> None:
    start = Enhancer({"width": 4}, curve_target=0.45)
    start.save_pretrained(tmp_path / "start")
    recipe = FaceRecipe.from_dict({**TINY.to_dict(), "init": str(tmp_path / "start"),
                                   "stages": [{"iterations": 1, "lr": 1e-12}]})
    model = train_faces(faces, tmp_path / "run", recipe, progress=False)
    assert model.luma_only and model.curve_target == 0.45
    for (name, a), b in zip(model.state_dict().items(), start.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)  # one step at lr 1e-12 moves nothing


def test_a_run_folder_in_use_is_refused_and_a_stale_lock_taken_over(faces: Path, tmp_path: Path) -> None:
    """TR02: two runs into one --output; the second is refused while the first lives."""
    from llenhance.training.lock import LOCK_NAME

    run = tmp_path / "run"
    run.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid, "host": __import__("socket").gethostname()}))
        busy = subprocess.run([sys.executable, "-m", "llenhance.cli", "train", "faces", "--data", str(faces),
                               "--output", str(run), "--stages", "1:1e-3", "--width", "4", "--size", "16",
                               "--batch-size", "2"], capture_output=True, text=True)
        assert busy.returncode == 2 and f"is in use by another training run (pid {sleeper.pid})" in busy.stderr
        assert "Traceback" not in busy.stderr and not (run / "recipe.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # its owner is gone: the lock is stale, the next run takes it over and removes it at the end
    train_faces(faces, run, FaceRecipe.from_dict({**TINY.to_dict(), "stages": [{"iterations": 1, "lr": 1e-3}]}),
                progress=False)
    assert (run / "model" / "model.safetensors").is_file() and not (run / LOCK_NAME).exists()
