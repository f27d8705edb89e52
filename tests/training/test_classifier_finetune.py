"""`finetune_classifier`: it learns, it resumes to the uninterrupted weights, and it keeps its run folder's recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import TensorDataset

from llenhance.training import ClassifierRecipe, finetune_classifier
from llenhance.training.runs import RunFolderError


def _data(n: int = 64) -> TensorDataset:
    """Two classes told apart by brightness: dark faces are class 0, bright ones class 1."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 2
    images = (0.2 + 0.6 * labels.view(-1, 1, 1, 1) + 0.1 * torch.rand(n, 3, 8, 8, generator=g)).clamp(0, 1)
    return TensorDataset(images, labels)


def _net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 2))


class _Jitter:
    """A transform with random draws (so resuming must restore them); ``fail_at``: raise on that call."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls, self.fail_at = 0, fail_at

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt  # the run stopped from outside
        return (image + 0.05 * torch.randn_like(image)).clamp(0, 1)

    def __repr__(self) -> str:
        return "Jitter(0.05)"


def _accuracy(net: nn.Module, data: TensorDataset) -> float:
    x, y = data.tensors
    with torch.no_grad():
        return float((net.eval()(x).argmax(1) == y).float().mean())


def test_finetune_learns_and_writes_its_run_folder(tmp_path: Path) -> None:
    data, net = _data(), _net()
    before = _accuracy(net, data)
    recipe = ClassifierRecipe(epochs=6, batch_size=8, lr=0.05, seed=1)
    out = finetune_classifier(net, data, tmp_path / "run", recipe, transform=_Jitter(), progress=False)
    assert out is net and not net.training
    assert _accuracy(net, data) == 1.0 > before
    saved = load_file(tmp_path / "run" / "model.safetensors")
    assert all(torch.equal(saved[k], v.float()) for k, v in net.state_dict().items())
    record = json.loads((tmp_path / "run" / "training.json").read_text())
    assert record["recipe"]["augmentation"] == "Jitter(0.05)" and record["items"] == 64
    from llenhance.training.classifier import weights_digest

    assert json.loads((tmp_path / "run" / "recipe.json").read_text()) == {
        **recipe.to_dict(), "augmentation": "Jitter(0.05)", "start_weights": weights_digest(_net())}


def test_resumed_run_ends_with_the_uninterrupted_weights(tmp_path: Path) -> None:
    recipe = ClassifierRecipe(epochs=3, batch_size=8, lr=0.01, seed=2)
    whole = finetune_classifier(_net(), _data(), tmp_path / "whole", recipe, transform=_Jitter(), progress=False)
    with pytest.raises(KeyboardInterrupt):  # stopped in the second epoch (64 items an epoch)
        finetune_classifier(_net(), _data(), tmp_path / "cut", recipe, transform=_Jitter(fail_at=64 + 10),
                            progress=False)
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    rest = _Jitter()
    resumed = finetune_classifier(_net(), _data(), tmp_path / "cut", recipe, transform=rest, progress=False)
    assert rest.calls == 2 * 64  # epochs 2 and 3 only: the first came from the checkpoint
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_finished_run_is_loaded_not_trained_and_another_recipe_is_refused(tmp_path: Path) -> None:
    recipe = ClassifierRecipe(epochs=1, batch_size=8, lr=0.01)
    trained = finetune_classifier(_net(), _data(), tmp_path / "run", recipe, transform=_Jitter(), progress=False)
    never = _Jitter(fail_at=1)  # would stop at its first call
    again = finetune_classifier(_net(), _data(), tmp_path / "run", recipe, transform=never, progress=False)
    assert never.calls == 0
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), again.state_dict().values()))
    with pytest.raises(RunFolderError, match=r"lr: 0.01 in the folder, 0.02 now"):
        finetune_classifier(_net(), _data(), tmp_path / "run", ClassifierRecipe(epochs=1, batch_size=8, lr=0.02),
                            transform=_Jitter(), progress=False)
    other_start = _net()
    with torch.no_grad():
        other_start[-1].bias.add_(1.0)
    with pytest.raises(RunFolderError, match=r"start_weights: '[0-9a-f]{16}' in the folder"):
        finetune_classifier(other_start, _data(), tmp_path / "run", recipe, transform=_Jitter(), progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not a classifier run folder"):
        finetune_classifier(_net(), _data(), tmp_path / "other", recipe, progress=False)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("kwargs", "name"), [({"epochs": 0}, "epochs"), ({"batch_size": 1.5}, "batch_size"),
                                              ({"lr": 0}, "lr"), ({"weight_decay": -1}, "weight_decay"),
                                              ({"seed": -1}, "seed")])
def test_recipe_names_a_bad_argument(kwargs: dict, name: str) -> None:
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        ClassifierRecipe(**kwargs)


def test_batch_larger_than_the_data_is_refused_before_the_folder_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`batch_size` expected at most the 64"):
        finetune_classifier(_net(), _data(), tmp_path / "run", ClassifierRecipe(batch_size=100), progress=False)
    assert not (tmp_path / "run").exists()


def test_run_folder_holds_exactly_its_files_with_the_modes_open_gives(tmp_path: Path) -> None:
    """No temporary or lock file left, the files readable as open() would make them, the data untouched."""
    import os

    data = _data()
    before = [t.clone() for t in data.tensors]
    with pytest.raises(KeyboardInterrupt):  # an interrupted run first: it must leave only its checkpoint
        finetune_classifier(_net(), data, tmp_path / "run", ClassifierRecipe(epochs=2, batch_size=8),
                            transform=_Jitter(fail_at=64 + 3), progress=False)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "recipe.json"]
    finetune_classifier(_net(), data, tmp_path / "run", ClassifierRecipe(epochs=2, batch_size=8),
                        transform=_Jitter(), progress=False)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["checkpoint.pt", "model.safetensors", "recipe.json", "training.json"]
    umask = os.umask(0)
    os.umask(umask)
    for name in names:
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert all(torch.equal(a, b) for a, b in zip(before, data.tensors))
