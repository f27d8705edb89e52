"""FERGuidedTrainer: train LLENet in front of a frozen FER classifier (paper §3.2, Eq. 13).

Without a classifier it is the reconstruction-only trainer (the paper's IFER
enhancer, and LOL-style training): the same code path with the FER terms off.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Iterator, Sized
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from llenhance._atomic import atomic_path
from llenhance._checks import check_nonnegative, check_positive_int
from llenhance.classifier import FrozenClassifier
from llenhance.losses.fer import JointLoss
from llenhance.losses.reconstruction import ReconstructionLoss
from llenhance.metrics import psnr, ssim

__all__ = ["FERGuidedTrainer"]

CHECKPOINT_NAME = "checkpoint.pt"
#: Settings a resumed run may change (where and how fast it runs, not what it learns).
_RESUME_MAY_DIFFER = frozenset({"amp", "world_size", "num_workers"})
_SCHEDULES = ("constant", "cosine")


class _EpochBatches(Sampler[list[int]]):
    """Batches of one epoch: a permutation seeded by (seed, epoch), cut into global batches.

    Each rank takes its contiguous share of every global batch, so a run on N
    ranks sees exactly the batches of a single-process run. The last partial
    global batch is dropped. ``start`` skips batches already trained on
    (resuming), without loading them.
    """

    def __init__(self, size: int, batch: int, *, seed: int, epoch: int, start: int, rank: int, world: int) -> None:
        self.size, self.batch, self.seed, self.epoch = size, batch, seed, epoch
        self.start, self.rank, self.world = start, rank, world

    def __len__(self) -> int:
        return self.size // self.batch - self.start

    def __iter__(self) -> Iterator[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=g).tolist()
        share = self.batch // self.world
        for b in range(self.start, self.size // self.batch):
            first = b * self.batch + self.rank * share
            yield order[first : first + share]


def _describe_feature_net(loss: ReconstructionLoss) -> str:
    if loss.perceptual is None:
        return "off (weight 0)"
    net = loss.perceptual.feature_net
    return getattr(net, "llenhance_name", f"custom: {type(net).__name__}")


class FERGuidedTrainer:
    """Train an enhancer with the joint loss of LL-FER in front of a frozen classifier.

    Batches are ``(low, normal)`` (reconstruction only) or
    ``(low, normal, label)`` (joint training; labels may be omitted when the
    ``cls`` weight is 0). The classifier never changes: it runs in eval mode
    with ``requires_grad_(False)``; gradients flow through it to the enhancer.

    Under ``torchrun --nproc_per_node=N`` (``WORLD_SIZE`` > 1) the enhancer is
    wrapped in DistributedDataParallel (gloo on CPU, nccl on CUDA), each rank
    trains on its share of every global batch of ``batch_size``, and rank 0
    alone logs, validates and writes checkpoints.

    Args:
        enhancer: the network to train (e.g. ``llenet_s()``).
        classifier: a frozen FER classifier, as a ``FrozenClassifier`` (to
            set its preprocessing and stages) or a plain module (ImageNet
            normalisation, stages found automatically); ``None`` trains with
            the reconstruction loss only.
        reconstruction: the L_rec module; default: paper weights with VGG-16
            (``ReconstructionLoss(perceptual=0)`` where VGG weights are
            unavailable; recorded in `config`).
        rec: weight of L_rec.
        ferp: weight of L_ferp (0 without a classifier).
        cls: weight of L_cls (0 without a classifier).
        label: weight of L_label (0 without a classifier).
        lr: Adam learning rate (paper 3e-4).
        batch_size: global batch size (paper 32 joint, 80 reconstruction).
        schedule: ``"constant"`` (paper) or ``"cosine"`` (to 1% of ``lr``).
        clip_grad_norm: clip the gradient norm to this value; ``None`` = off.
        amp: bfloat16 autocast (CUDA only).
        device: where to train; under torchrun with CUDA, ``cuda:LOCAL_RANK``.
        seed: seeds the batch order (and, for datasets with ``set_epoch``,
            their augmentation through the epoch number).
        num_workers: DataLoader workers.
        checkpoint_dir: where ``checkpoint.pt`` is written (atomically).
        checkpoint_every: iterations between checkpoints (and at the end).
        val_every: iterations between validations (and at the end), when
            ``fit`` gets a validation set.
        progress: show a tqdm bar (rank 0).

    Examples:
        >>> from llenhance import llenet_s
        >>> from llenhance.losses import ReconstructionLoss
        >>> data = [(torch.rand(3, 16, 16) * 0.2, torch.rand(3, 16, 16)) for _ in range(4)]
        >>> trainer = FERGuidedTrainer(llenet_s(), reconstruction=ReconstructionLoss(perceptual=0),
        ...                            batch_size=2, progress=False)
        >>> sorted(trainer.fit(data, iterations=2))
        ['color', 'frequency', 'iteration', 'l1', 'loss', 'mse', 'structure']
    """

    def __init__(
        self,
        enhancer: nn.Module,
        classifier: nn.Module | None = None,
        *,
        reconstruction: ReconstructionLoss | None = None,
        rec: float = 1.0,
        ferp: float = 1.0,
        cls: float = 1.0,
        label: float = 1.0,
        lr: float = 3e-4,
        batch_size: int = 32,
        schedule: str = "constant",
        clip_grad_norm: float | None = None,
        amp: bool = False,
        device: str | torch.device = "cpu",
        seed: int = 0,
        num_workers: int = 0,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int = 500,
        val_every: int | None = None,
        progress: bool = True,
    ) -> None:
        if not isinstance(enhancer, nn.Module):
            raise TypeError(f"`enhancer` expected an nn.Module, got {type(enhancer).__name__}")
        check_positive_int(batch_size, "batch_size")
        check_positive_int(checkpoint_every, "checkpoint_every")
        if val_every is not None:
            check_positive_int(val_every, "val_every")
        if check_nonnegative(lr, "lr") == 0:
            raise ValueError(f"`lr` expected a positive number, got {lr}")
        if schedule not in _SCHEDULES:
            raise ValueError(f"`schedule` expected one of {_SCHEDULES}, got {schedule!r}")
        if clip_grad_norm is not None and check_nonnegative(clip_grad_norm, "clip_grad_norm") == 0:
            raise ValueError(f"`clip_grad_norm` expected a positive number or None, got {clip_grad_norm}")
        if num_workers < 0:
            raise ValueError(f"`num_workers` expected an int >= 0, got {num_workers}")

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        device = torch.device(device)
        if self.world > 1 and device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if amp and device.type != "cuda":
            raise ValueError(f"`amp` expected a CUDA `device`, got {device}")
        if batch_size % self.world:
            raise ValueError(f"`batch_size` expected a multiple of the {self.world} ranks, got {batch_size}")
        self.device = device

        if classifier is None:
            if check_nonnegative(rec, "rec") == 0:
                raise ValueError("`rec` expected a positive weight without a classifier (nothing else to train on), got 0")
            self.classifier = None
            ferp = cls = label = 0.0
        else:
            self.classifier = (
                classifier if isinstance(classifier, FrozenClassifier) else FrozenClassifier(classifier)
            ).to(device)
            if not self.classifier.stages:
                ferp = 0.0
        reconstruction = reconstruction if reconstruction is not None else ReconstructionLoss()
        self.loss = JointLoss(reconstruction, rec=rec, ferp=ferp, cls=cls, label=label).to(device)

        self.enhancer = enhancer.to(device)
        self._model: nn.Module = self.enhancer
        if self.world > 1:
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self._model = nn.parallel.DistributedDataParallel(
                self.enhancer, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.optimizer = torch.optim.Adam(self.enhancer.parameters(), lr=lr)
        self.lr, self.batch_size, self.schedule = lr, batch_size, schedule
        self.clip_grad_norm, self.amp, self.seed = clip_grad_norm, amp, seed
        self.num_workers = num_workers
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every, self.val_every = checkpoint_every, val_every
        self.progress = progress and self.rank == 0
        self.history: list[dict[str, float]] = []
        #: Optimiser steps taken by the last ``fit`` call (0 when it resumed a finished run).
        self.trained_steps = 0
        rec_weights = dataclasses.asdict(reconstruction.weights)
        self.config: dict[str, Any] = {
            "enhancer": type(enhancer).__name__,
            "enhancer_config": getattr(enhancer, "_hub_mixin_config", None),
            "classifier": None if self.classifier is None else type(self.classifier.classifier).__name__,
            "classifier_stages": None if self.classifier is None else list(self.classifier.stages),
            "loss_weights": dict(self.loss.weights),
            "reconstruction_weights": rec_weights,
            "perceptual_feature_net": _describe_feature_net(reconstruction),
            "circular_hue": reconstruction.circular_hue,
            "optimizer": "Adam",
            "lr": lr,
            "batch_size": batch_size,
            "schedule": schedule,
            "clip_grad_norm": clip_grad_norm,
            "amp": amp,
            "seed": seed,
            "world_size": self.world,
        }

    # -- pieces of a step -------------------------------------------------
    def _unpack(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(
                "`train` items expected (low, normal) or (low, normal, label), "
                f"got {type(batch).__name__} of length {len(batch) if isinstance(batch, (tuple, list)) else '-'}"
            )
        low, normal = batch[0].to(self.device), batch[1].to(self.device)
        labels = batch[2].to(self.device) if len(batch) == 3 else None
        return low, normal, labels

    def _terms(self, low: torch.Tensor, normal: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            enhanced = self._model(low)
        enhanced = enhanced.float()
        if self.classifier is None:
            terms = self.loss.reconstruction.terms(enhanced, normal)  # type: ignore[union-attr]
            terms["total"] = self.loss.weights["rec"] * terms["total"]
            return terms
        logits, features = self.classifier.forward_features(enhanced)
        with torch.no_grad():
            normal_logits, normal_features = self.classifier.forward_features(normal)
        return self.loss.terms(
            enhanced,
            normal,
            enhanced_features=features,
            normal_features=normal_features,
            logits=logits,
            normal_logits=normal_logits,
            labels=labels,
        )

    def _scheduler(self, iterations: int) -> torch.optim.lr_scheduler.LRScheduler:
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=iterations, eta_min=self.lr * 0.01)
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _: 1.0)

    # -- checkpoints --------------------------------------------------------
    def _state(self, iteration: int, epoch: int, position: int, iterations: int, scheduler: Any) -> dict[str, Any]:
        return {
            "iteration": iteration,
            "iterations": iterations,
            "epoch": epoch,
            "position": position,
            "enhancer": self.enhancer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": json.dumps(np.random.get_state()[1].tolist()),
                "numpy_pos": int(np.random.get_state()[2]),
                "python": json.dumps(random.getstate()),
            },
            "config": self.config,
            "history": self.history,
        }

    def _restore(self, path: Path, iterations: int, scheduler: Any) -> tuple[int, int, int]:
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state["iterations"] != iterations:
            raise ValueError(
                f"`iterations` expected {state['iterations']} to resume {path} (its schedule), got {iterations}"
            )
        saved = state.get("config", {})
        differ = [f"{k}: checkpoint {saved.get(k)!r}, now {self.config.get(k)!r}"
                  for k in sorted(set(saved) | set(self.config))
                  if k not in _RESUME_MAY_DIFFER and saved.get(k) != self.config.get(k)]
        if differ:
            raise ValueError(
                f"`resume` expected the settings {path} was trained with; these differ: {'; '.join(differ)}. "
                "Resume with the same settings, or start a new run in another folder"
            )
        self.enhancer.load_state_dict(state["enhancer"])
        self.optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
        np_state = np.random.get_state()
        keys = np.array(json.loads(state["rng"]["numpy"]), dtype=np.uint32)
        np.random.set_state((np_state[0], keys, state["rng"]["numpy_pos"], 0, 0.0))
        py_version, py_internal, py_gauss = json.loads(state["rng"]["python"])
        random.setstate((py_version, tuple(py_internal), py_gauss))
        self.history = list(state["history"])
        return state["iteration"], state["epoch"], state["position"]

    # -- validation ---------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, val: Dataset, *, batch_size: int = 1) -> dict[str, float]:
        """PSNR and SSIM (per-image means, RGB, [0, 1]) of the enhanced images against
        the normal-light ones, and, with a classifier and labels, its accuracy on
        the enhanced images."""
        was_training = self.enhancer.training
        self.enhancer.eval()
        totals = {"psnr": 0.0, "ssim": 0.0, "correct": 0.0}
        count = labelled = 0
        loader = DataLoader(val, batch_size=batch_size, shuffle=False, num_workers=self.num_workers)
        for batch in loader:
            low, normal, labels = self._unpack(batch)
            enhanced = self.enhancer(low).float()
            totals["psnr"] += float(psnr(enhanced, normal).sum())
            totals["ssim"] += float(ssim(enhanced, normal).sum())
            count += low.shape[0]
            if self.classifier is not None and labels is not None:
                totals["correct"] += float((self.classifier(enhanced).argmax(1) == labels).sum())
                labelled += labels.shape[0]
        self.enhancer.train(was_training)
        if count == 0:
            raise ValueError("`val` expected at least one item, got an empty data set")
        metrics = {"val_psnr": totals["psnr"] / count, "val_ssim": totals["ssim"] / count}
        if labelled:
            metrics["val_accuracy"] = totals["correct"] / labelled
        return metrics

    # -- the loop -----------------------------------------------------------
    def fit(
        self,
        train: Dataset,
        val: Dataset | None = None,
        *,
        iterations: int = 2000,
        resume: bool | str | Path = False,
    ) -> dict[str, float]:
        """Train for ``iterations`` optimiser steps.

        Args:
            train: items ``(low, normal[, label])``, float (3, H, W) in [0, 1]
                of one size per batch (crop them).
            val: optional validation items of the same form.
            iterations: total optimiser steps (of the whole run, resumed or not).
            resume: ``True`` resumes from ``checkpoint_dir/checkpoint.pt`` when
                it exists; a path resumes from that file.

        Returns:
            The last logged metrics (iteration, loss and its terms, and the
            validation metrics when ``val`` is given).
        """
        check_positive_int(iterations, "iterations")
        if not isinstance(train, Sized) or len(train) < self.batch_size:
            size = len(train) if isinstance(train, Sized) else "unknown"
            raise ValueError(f"`train` expected at least batch_size={self.batch_size} items, got {size}")
        scheduler = self._scheduler(iterations)
        iteration = epoch = position = 0
        self.trained_steps = 0
        checkpoint = self._resume_path(resume)
        if checkpoint is not None:
            iteration, epoch, position = self._restore(checkpoint, iterations, scheduler)
        self.enhancer.train()
        if self.classifier is not None:
            self.classifier.train()  # keeps the classifier itself in eval mode
        bar = tqdm(total=iterations, initial=iteration, disable=not self.progress, desc="train", dynamic_ncols=True)
        last: dict[str, float] = {"iteration": iteration}
        while iteration < iterations:
            if hasattr(train, "set_epoch"):
                train.set_epoch(epoch)
            sampler = _EpochBatches(
                len(train), self.batch_size, seed=self.seed, epoch=epoch, start=position,
                rank=self.rank, world=self.world,
            )
            loader = DataLoader(train, batch_sampler=sampler, num_workers=self.num_workers,
                                pin_memory=self.device.type == "cuda")
            for batch in loader:
                terms = self._terms(*self._unpack(batch))
                self.optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                if self.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(self.enhancer.parameters(), self.clip_grad_norm)
                self.optimizer.step()
                scheduler.step()
                iteration += 1
                position += 1
                self.trained_steps += 1
                last = {"iteration": iteration, "loss": terms["total"].detach().item()}
                last.update({k: v.detach().item() for k, v in terms.items() if k != "total"})
                bar.update(1)
                bar.set_postfix(loss=f"{last['loss']:.4f}", refresh=False)
                done = iteration == iterations
                if val is not None and self.rank == 0 and (done or (self.val_every and iteration % self.val_every == 0)):
                    last.update(self.evaluate(val))
                    bar.write(json.dumps({k: round(v, 5) for k, v in last.items()}))
                if self.rank == 0:
                    self.history.append(last)
                if done or iteration % self.checkpoint_every == 0:
                    epoch_done = position == len(train) // self.batch_size
                    self._save_checkpoint(iteration, epoch + epoch_done, 0 if epoch_done else position,
                                          iterations, scheduler)
                if done:
                    break
            else:
                epoch, position = epoch + 1, 0
                continue
            break
        bar.close()
        if self.trained_steps == 0 and self.history:  # resumed a finished run: its own final metrics
            return dict(self.history[-1])
        return last

    def _resume_path(self, resume: bool | str | Path) -> Path | None:
        if resume is False:
            return None
        if resume is True:
            if self.checkpoint_dir is None:
                raise ValueError("`resume=True` expected a `checkpoint_dir`, got None")
            path = self.checkpoint_dir / CHECKPOINT_NAME
            return path if path.is_file() else None
        path = Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"`resume` expected a checkpoint file, {path} does not exist")
        return path

    def _save_checkpoint(self, iteration: int, epoch: int, position: int, iterations: int, scheduler: Any) -> None:
        if self.checkpoint_dir is None or self.rank != 0:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.checkpoint_dir / CHECKPOINT_NAME) as tmp:
            torch.save(self._state(iteration, epoch, position, iterations, scheduler), tmp)
