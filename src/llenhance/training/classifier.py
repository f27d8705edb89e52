"""Fine-tune a FER classifier on faces, optionally darkened: the "retrain" alternative to a plug-in enhancer.

`finetune_classifier` trains every parameter of a classifier with AdamW, a
one-cycle learning rate and label smoothing, on ``(image, label)`` items put
through a transform (e.g. crops and flips, then
`llenhance.transforms.darkening_augmentation`). It is seeded and resumable:
each epoch draws its order and its augmentation from ``seed`` and the epoch,
and ends with a checkpoint (weights, optimiser, schedule, random state), so an
interrupted run resumed gives the weights of an uninterrupted one. The run
folder follows the policy of `llenhance.training.runs` (``recipe.json``; same
recipe resumes or returns the finished run; another is refused).

Examples:
    >>> ClassifierRecipe(epochs=2).to_dict()["epochs"]
    2
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from llenhance._atomic import atomic_path
from llenhance._checks import check_positive_int
from llenhance._digest import state_digest
from llenhance.training.lock import run_lock
from llenhance.training.runs import claim_run_folder
from llenhance.training.state import CHECKPOINT_NAME, restore_rng, save_checkpoint

__all__ = ["ClassifierRecipe", "finetune_classifier"]

MODEL_NAME = "model.safetensors"


@dataclass(frozen=True)
class ClassifierRecipe:
    """How a classifier is fine-tuned.

    Attributes:
        epochs: passes over the data.
        batch_size: images per step (the last incomplete batch of an epoch is dropped).
        lr: peak learning rate of the one-cycle schedule (15 % warm-up, cosine decay).
        weight_decay: AdamW's decoupled weight decay.
        label_smoothing: of the cross-entropy.
        seed: order and augmentation of every epoch.
        augmentation: a description of the transform (``repr`` of it by default), recorded so that a run
            folder is not resumed with another one.
    """

    epochs: int = 2
    batch_size: int = 128
    lr: float = 3e-4
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    seed: int = 0
    augmentation: str = "none"

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        for name in ("lr", "weight_decay", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (name == "lr" and value == 0):
                raise ValueError(f"`{name}` expected a {'positive' if name == 'lr' else 'non-negative'} number, "
                                 f"got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"`seed` expected a non-negative int, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


def weights_digest(module: nn.Module) -> str:
    """The first 16 hex digits of `state_digest`: which starting weights a run folder was made from."""
    return state_digest(module)[:16]


class _Transformed(Dataset):
    """``(transform(image), label)`` of ``data``'s items."""

    def __init__(self, data: Dataset, transform: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self.data, self.transform = data, transform

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.data[index][:2]
        return (self.transform(image) if self.transform is not None else image), int(label)


def finetune_classifier(
    classifier: nn.Module,
    data: Dataset,
    output: str | os.PathLike,
    recipe: ClassifierRecipe | None = None,
    *,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> nn.Module:
    """Fine-tune ``classifier`` (in place) on ``data`` in the run folder ``output``.

    Writes ``output/checkpoint.pt`` after every epoch and, at the end, ``output/model.safetensors`` (the
    state dict, float32) and ``output/training.json`` (recipe, last loss, time). A finished run folder of
    the same recipe loads its weights into ``classifier`` and trains nothing.

    Args:
        classifier: the network, from its normal-light weights; logits out.
        data: ``(image, label)`` items, images as float tensors in [0, 1] of one size.
        output: the run folder (new, empty, or one of this recipe and these starting weights).
        recipe: default `ClassifierRecipe()`; its ``augmentation`` defaults to ``repr(transform)``.
        transform: applied to each training image (from the global RNG, seeded per epoch).
        preprocess: applied to each batch before the classifier (e.g. normalisation).
        device: where to train.
        progress: a tqdm bar per epoch.

    Returns:
        nn.Module: ``classifier``, trained, in eval mode, on ``device``.

    Raises:
        RunFolderError: ``output`` holds another run.
    """
    from safetensors.torch import load_file, save_file
    from tqdm.auto import tqdm

    if not isinstance(classifier, nn.Module):
        raise TypeError(f"`classifier` expected an nn.Module, got {type(classifier).__name__}")
    recipe = recipe if recipe is not None else ClassifierRecipe()
    if recipe.augmentation == "none" and transform is not None:
        recipe = dataclasses.replace(recipe, augmentation=" ".join(repr(transform).split()))
    if len(data) < recipe.batch_size:  # type: ignore[arg-type]
        raise ValueError(f"`batch_size` expected at most the {len(data)} training items, got {recipe.batch_size}")
    # the starting weights are part of the run: a folder made from other weights is refused, not resumed
    output = claim_run_folder(output, {**recipe.to_dict(), "start_weights": weights_digest(classifier)},
                              kind="classifier")
    device = torch.device(device)
    classifier.to(device)
    final = output / MODEL_NAME
    with run_lock(output):
        if final.is_file() and (output / "training.json").is_file():
            classifier.load_state_dict(load_file(str(final), device=str(device)))
            return classifier.eval()
        params = [p for p in classifier.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
        steps_per_epoch = len(data) // recipe.batch_size  # type: ignore[arg-type]
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, pct_start=0.15,
                                                        total_steps=recipe.epochs * steps_per_epoch)
        start, checkpoint = 0, output / CHECKPOINT_NAME
        if checkpoint.is_file():
            state = torch.load(checkpoint, map_location=device, weights_only=True)
            classifier.load_state_dict(state["net"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start = state["epoch"]
            restore_rng(state["rng"])
        started, loss = time.time(), torch.zeros(())
        items = _Transformed(data, transform)
        for epoch in range(start, recipe.epochs):
            torch.manual_seed(recipe.seed * 1000 + epoch)  # the transform's draws
            order = torch.Generator().manual_seed(recipe.seed * 1000 + epoch)
            loader = DataLoader(items, batch_size=recipe.batch_size, shuffle=True, drop_last=True, generator=order)
            classifier.train()
            for x, y in tqdm(loader, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=not progress,
                             mininterval=10):
                x, y = x.to(device, non_blocking=True), y.to(device)
                logits = classifier(preprocess(x) if preprocess is not None else x)
                loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
            save_checkpoint(checkpoint, {"net": classifier.state_dict(), "optimizer": optimizer.state_dict(),
                                         "scheduler": scheduler.state_dict(), "epoch": epoch + 1})
        classifier.eval()
        with atomic_path(final) as tmp:
            save_file({k: v.detach().float().contiguous().cpu() if v.is_floating_point() else v.contiguous().cpu()
                       for k, v in classifier.state_dict().items()}, str(tmp))
        record = {"recipe": recipe.to_dict(), "items": len(data), "last_loss": float(loss.detach()),  # type: ignore[arg-type]
                  "wall_seconds_last_session": round(time.time() - started, 1), "device": str(device)}
        with atomic_path(output / "training.json") as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        return classifier
