"""The face enhancer's recipe: train a `llenet-faces`-style enhancer on a folder of normal-light faces.

No pairs and no classifier are needed: every face is darkened on the fly
(`LowLightSynth`, a mix of protocols, a share left well lit as its own
target), and the network learns to undo it with the reconstruction loss
(paper Eq. 11, without the colour and perceptual terms). Training runs in
stages, each starting from the weights of the one before, with its own
learning rate and its own draw of the data. The recipe is a frozen dataclass,
`FaceRecipe`, written as ``recipe.json`` into the run folder and into the
finished model's ``training.json``; ``llenhance train faces --recipe FILE``
reruns it.

A run folder holds one recipe: a new folder starts, the same recipe resumes
(from the last checkpoint of the unfinished stage), a finished run is returned
as it is, and another recipe is refused with every difference listed.

Examples:
    >>> FaceRecipe().stages[0]
    FaceStage(iterations=3000, lr=0.0005)
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import ConcatDataset, Dataset

from llenhance._atomic import atomic_path
from llenhance.data import find_images, read_image, to_float
from llenhance.data.synthetic import SyntheticLowLight
from llenhance.training.lock import run_lock
from llenhance.training.runs import RunFolderError, claim_run_folder
from llenhance.transforms import DARKENINGS, LowLightSynth

__all__ = ["FACE_DARKENINGS", "FaceImages", "FaceRecipe", "FaceStage", "RunFolderError", "face_pairs", "train_faces"]

#: The darkenings a face recipe can mix: name -> `LowLightSynth` arguments.
FACE_DARKENINGS: dict[str, dict[str, Any]] = DARKENINGS


@dataclass(frozen=True)
class FaceStage:
    """One training stage: optimiser steps and the peak learning rate (Adam, cosine schedule)."""

    iterations: int
    lr: float


@dataclass(frozen=True)
class FaceRecipe:
    """How a face enhancer is trained. The defaults are the recipe of the built-in ``llenet-faces`` weights.

    Attributes:
        stages: the training stages, in order.
        seed: seeds the network's initial weights (stage 1) and the data: stage ``k`` (from 0) trains with
            seed ``seed + k * stage_seed_offset`` and draws darkening ``i`` with ``that * 10 + i``.
        size: faces are resized to ``size`` x ``size``.
        darkenings: names from `FACE_DARKENINGS`, mixed in equal shares.
        normal_fraction: share of the pairs left well lit (input = target).
        batch_size: faces per step.
        width, stem_stride, curve_target, luma_only: the `LLENet` built (``llenet_s`` blocks).
        stage_seed_offset: see ``seed``.
        init: ``None`` (a new network), or weights to start the first stage from (a built-in name or a
            folder; ``luma_only`` is then set on them, the rest of their architecture is kept).
    """

    stages: tuple[FaceStage, ...] = (FaceStage(3000, 5e-4), FaceStage(3000, 2.5e-4))
    seed: int = 0
    size: int = 48
    darkenings: tuple[str, ...] = ("paper", "realistic")
    normal_fraction: float = 0.25
    batch_size: int = 32
    width: int = 16
    stem_stride: int = 1
    curve_target: float = 0.45
    luma_only: bool = False
    stage_seed_offset: int = field(default=10)
    init: str | None = None

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("`stages` expected at least one stage, got none")
        for stage in self.stages:
            if not isinstance(stage, FaceStage) or isinstance(stage.iterations, bool) \
                    or not isinstance(stage.iterations, int) or stage.iterations < 1 or not stage.lr > 0:
                raise ValueError(f"`stages` expected FaceStage(iterations >= 1, lr > 0) items, got {stage!r}")
        unknown = [d for d in self.darkenings if d not in FACE_DARKENINGS]
        if not self.darkenings or unknown:
            raise ValueError(f"`darkenings` expected names from {sorted(FACE_DARKENINGS)}, got {list(self.darkenings)}")
        if not 0.0 <= self.normal_fraction <= 1.0:
            raise ValueError(f"`normal_fraction` expected a share in [0, 1], got {self.normal_fraction}")
        for name in ("seed", "size", "batch_size", "width", "stage_seed_offset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "seed" else 1):
                raise ValueError(f"`{name}` expected a {'non-negative' if name == 'seed' else 'positive'} int, "
                                 f"got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (`from_dict` reads it back)."""
        out = dataclasses.asdict(self)
        out["stages"] = [dataclasses.asdict(s) for s in self.stages]
        out["darkenings"] = list(self.darkenings)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceRecipe:
        """The recipe a `to_dict` dict (or a ``recipe.json`` / a ``training.json`` with a ``recipe``) describes."""
        if not isinstance(data, dict):
            raise TypeError(f"a recipe expected a JSON object, got {type(data).__name__}")
        if "recipe" in data and isinstance(data["recipe"], dict):
            data = data["recipe"]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"a recipe expected keys from {sorted(known)}, got unknown {unknown}")
        values = dict(data)
        if "stages" in values:
            values["stages"] = tuple(FaceStage(**s) if isinstance(s, dict) else s for s in values["stages"])
        if "darkenings" in values:
            values["darkenings"] = tuple(values["darkenings"])
        return cls(**values)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FaceRecipe:
        """Read a recipe file (``recipe.json``, or a finished model's ``training.json``)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"`recipe` {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"`recipe` {path} is not JSON: {err}") from None
        return cls.from_dict(data)


class FaceImages(Dataset):
    """Every image under ``root`` (recursively, any class folders), as a float (3, size, size) tensor in [0, 1].

    Examples:
        >>> import tempfile, PIL.Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> PIL.Image.new("L", (60, 50), 90).save(folder / "face.png")
        >>> FaceImages(folder, size=48)[0].shape
        torch.Size([3, 48, 48])
    """

    def __init__(self, root: str | os.PathLike, *, size: int) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"`data` expected a folder of normal-light faces, {root} does not exist")
        self.root = root
        self.files = find_images(root, recursive=True)
        if not self.files:
            raise ValueError(f"`data` expected images under {root} (png, jpg, ...), found none")
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        from torchvision.transforms.v2 import functional as TF

        image = to_float(read_image(self.files[index]))
        if tuple(image.shape[-2:]) != (self.size, self.size):
            image = TF.resize(image, [self.size, self.size], antialias=True).clamp(0, 1)
        return image


def face_pairs(faces: Dataset, darkenings: Sequence[str], *, normal_fraction: float, seed: int) -> Dataset:
    """Dark/normal pairs of ``faces`` for training: each darkening (a name from `FACE_DARKENINGS`) in an equal
    share (one copy of the faces each), mirrored at random, ``normal_fraction`` of the pairs left well lit
    (input = target). Items are ``(dark, normal)``, or ``(dark, normal, label)`` for labelled faces; darkening
    ``i`` draws with seed ``seed * 10 + i``.
    """
    unknown = [d for d in darkenings if d not in FACE_DARKENINGS]
    if unknown or not darkenings:
        raise ValueError(f"`darkenings` expected names from {sorted(FACE_DARKENINGS)}, got {list(darkenings)}")
    return ConcatDataset([
        SyntheticLowLight(faces, LowLightSynth(**FACE_DARKENINGS[name]), flip=True, seed=seed * 10 + i,
                          normal_fraction=normal_fraction)
        for i, name in enumerate(darkenings)
    ])


def train_faces(
    data: str | os.PathLike,
    output: str | os.PathLike,
    recipe: FaceRecipe | None = None,
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> Any:
    """Train a face enhancer from the normal-light faces under ``data`` into the run folder ``output``.

    Stage ``k`` trains under ``output/stage-<k>/`` (checkpoints every 100 steps) and saves its model
    there; the last stage's model is written to ``output/model/`` with a ``training.json`` that holds
    the recipe, each stage's record and ``command``. Calling again with the same recipe resumes an
    interrupted run or returns a finished one; another recipe is refused (`RunFolderError`).

    Args:
        data: a folder of normal-light face images (searched recursively; class folders are fine).
        output: the run folder (new, empty, or one of this recipe).
        recipe: default `FaceRecipe()`, the built-in ``llenet-faces`` recipe.
        device: where to train.
        progress: tqdm bars.
        command: the command line, recorded in ``training.json``.

    Returns:
        LLENet: the trained enhancer (eval mode, on the CPU).
    """
    recipe = recipe if recipe is not None else FaceRecipe()
    output = Path(output)
    faces = FaceImages(data, size=recipe.size)
    claim_run_folder(output, recipe.to_dict(), kind="face",
                     rerun_hint=f" or rerun its own recipe with --recipe {output / 'recipe.json'}")
    with run_lock(output):
        return _train_stages(faces, output, recipe, device=device, progress=progress, command=command)


def _train_stages(faces: FaceImages, output: Path, recipe: FaceRecipe, *, device: str | torch.device,
                  progress: bool, command: Sequence[str] | None) -> Any:
    from llenhance.losses import ReconstructionLoss
    from llenhance.models import Enhancer, llenet_s
    from llenhance.training.trainer import FERGuidedTrainer

    final = output / "model"
    if (final / "model.safetensors").is_file() and (final / "training.json").is_file():
        return Enhancer.from_pretrained(final).eval()
    records = []
    previous: Path | None = None
    for k, stage in enumerate(recipe.stages):
        folder = output / f"stage-{k + 1}"
        seed = recipe.seed + k * recipe.stage_seed_offset
        if (folder / "model" / "model.safetensors").is_file() and (folder / "record.json").is_file():
            records.append(json.loads((folder / "record.json").read_text()))
            previous = folder / "model"
            continue
        torch.manual_seed(seed)
        if previous is None and recipe.init is not None:
            enhancer = Enhancer.from_pretrained(recipe.init, luma_only=recipe.luma_only)
        elif previous is None:
            enhancer = llenet_s(width=recipe.width, stem_stride=recipe.stem_stride,
                                curve_target=recipe.curve_target, luma_only=recipe.luma_only)
        else:
            enhancer = Enhancer.from_pretrained(previous)
        trainer = FERGuidedTrainer(
            enhancer,
            None,
            # no VGG-16 ImageNet weights needed; faces are mostly grey: no hue term
            reconstruction=ReconstructionLoss(perceptual=0, color=0),
            lr=stage.lr,
            batch_size=recipe.batch_size,
            schedule="cosine",
            seed=seed,
            checkpoint_dir=folder / "checkpoints",
            checkpoint_every=100,
            device=device,
            progress=progress,
        )
        started = time.time()
        pairs = face_pairs(faces, recipe.darkenings, normal_fraction=recipe.normal_fraction, seed=seed)
        last = trainer.fit(pairs, iterations=stage.iterations, resume=True)
        enhancer.to("cpu").save_pretrained(folder / "model")
        record = {"stage": k + 1, "seed": seed, "iterations": stage.iterations, "lr": stage.lr, "last": last,
                  "wall_seconds_last_session": round(time.time() - started, 1), "device": str(device)}
        with atomic_path(folder / "record.json") as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        records.append(record)
        previous = folder / "model"
    model = Enhancer.from_pretrained(previous).eval()
    model.save_pretrained(final)
    summary = {"recipe": recipe.to_dict(), "data": str(faces.root), "faces": len(faces), "stages": records,
               "command": " ".join(command) if command else None}
    with atomic_path(final / "training.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return model
