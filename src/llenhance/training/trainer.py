"""FERGuidedTrainer: train LLENet in front of a frozen FER classifier (paper §3.2, Eq. 13).

Without a classifier it is the reconstruction-only trainer (the paper's IFER
enhancer, and LOL-style training): the same code path with the FER terms off.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Iterator, Sized
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate
from tqdm.auto import tqdm

from llenhance._checks import check_image, check_nonnegative, check_positive_int, unchecked
from llenhance.classifier import FrozenClassifier
from llenhance.losses.fer import JointLoss
from llenhance.losses.reconstruction import ReconstructionLoss
from llenhance.models.enhancer import Enhancer
from llenhance.training.objective import JointObjective
from llenhance.training.settings import TrainerSettings
from llenhance.training.state import CHECKPOINT_NAME, load_checkpoint, restore_rng, save_checkpoint

__all__ = ["FERGuidedTrainer"]


class _RunBatches(Sampler[list[tuple[int, int]]]):
    """The batches of a whole run, epoch after epoch, from ``(epoch, start)`` on.

    Each epoch is a permutation seeded by (seed, epoch), cut into global
    batches; the last partial global batch is dropped. Each rank takes its
    contiguous share of every global batch, so a run on N ranks sees exactly
    the batches of a single-process run. ``start`` skips the batches of the
    first epoch already trained on (resuming), without loading them. Items
    are ``(epoch, index)``: one DataLoader, and its worker processes, serve
    every epoch (`_EpochItems` passes the epoch on to the data set).
    """

    def __init__(self, size: int, batch: int, *, seed: int, epoch: int, start: int, rank: int, world: int) -> None:
        self.size, self.batch, self.seed, self.epoch = size, batch, seed, epoch
        self.start, self.rank, self.world = start, rank, world

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        share = self.batch // self.world
        for epoch in itertools.count(self.epoch):
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(self.size, generator=g).tolist()
            first_batch = self.start if epoch == self.epoch else 0
            for b in range(first_batch, self.size // self.batch):
                first = b * self.batch + self.rank * share
                yield [(epoch, i) for i in order[first : first + share]]


class _EpochItems(Dataset):
    """``data[index]`` for keys ``(epoch, index)``, calling ``data.set_epoch`` when the epoch changes
    (in whichever process loads the item: the main one or a DataLoader worker)."""

    def __init__(self, data: Dataset) -> None:
        self.data, self.epoch = data, None

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if epoch != self.epoch and hasattr(self.data, "set_epoch"):
            self.data.set_epoch(epoch)
        self.epoch = epoch
        return self.data[index]


def _collate(items: list[Any]) -> Any:
    """``default_collate``, with a clear error for items of different sizes (which cannot share a batch)."""
    try:
        return default_collate(items)
    except RuntimeError as err:
        sizes = sorted({tuple(item[0].shape[-2:]) for item in items if isinstance(item[0], torch.Tensor)})
        if len(sizes) < 2:
            raise
        raise ValueError(f"`train` holds images of different sizes ({', '.join(f'{h}x{w}' for h, w in sizes[:4])}),"
                         " which cannot share a batch; crop them to one size (e.g. PairedImageFolder(crop=...)) "
                         "or use batch_size=1") from None


def _describe_feature_net(loss: ReconstructionLoss) -> str:
    if loss.perceptual is None:
        return "off (weight 0)"
    net = loss.perceptual.feature_net
    return getattr(net, "llenhance_name", f"custom: {type(net).__name__}")


def distributed_setting(device: str | torch.device) -> tuple[int, int, torch.device]:
    """``(world size, rank, device)`` of this process: under ``torchrun`` (``WORLD_SIZE`` > 1) with CUDA,
    the device is ``cuda:LOCAL_RANK``; otherwise ``device`` as given, one process of rank 0."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return world, rank, device


def data_parallel(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel, the process group started if needed (nccl on CUDA, gloo on CPU)."""
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


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
        settings: the run settings as one `TrainerSettings`; the keyword arguments below are its fields and
            override it (``FERGuidedTrainer(net, lr=1e-4)`` and
            ``FERGuidedTrainer(net, settings=TrainerSettings(lr=1e-4))`` are the same).
        data: what the data pipeline does (JSON-ready: folder, crop, darkening, ...), recorded in `config`
            under ``"data"``: a checkpoint is only resumed with the same.
        **options: fields of `TrainerSettings` (``lr``, ``batch_size``, ``schedule``, ``device``,
            ``checkpoint_dir``, ...), each overriding ``settings``.

    Examples:
        >>> from llenhance import llenet_s
        >>> from llenhance.losses import ReconstructionLoss
        >>> data = [(torch.rand(3, 16, 16) * 0.2, torch.rand(3, 16, 16)) for _ in range(4)]
        >>> trainer = FERGuidedTrainer(llenet_s(), reconstruction=ReconstructionLoss(perceptual=0),
        ...                            batch_size=2, progress=False)
        >>> sorted(trainer.fit(data, iterations=2))
        ['color', 'frequency', 'iteration', 'l1', 'loss', 'mse', 'rec', 'structure']
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
        settings: TrainerSettings | None = None,
        data: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(enhancer, nn.Module):
            raise TypeError(f"`enhancer` expected an nn.Module, got {type(enhancer).__name__}")
        try:
            settings = (settings or TrainerSettings()).replace(**options)
        except TypeError:
            known = [f.name for f in dataclasses.fields(TrainerSettings)]
            unknown = sorted(set(options) - set(known))
            if not unknown:
                raise
            raise TypeError(f"FERGuidedTrainer got unknown options {unknown}; settings are {known}") from None
        self.settings = settings
        lr, batch_size, amp = settings.lr, settings.batch_size, settings.amp
        compile, channels_last = settings.compile, settings.channels_last
        self.world, self.rank, device = distributed_setting(settings.device)
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

        memory_format = torch.channels_last if channels_last else torch.preserve_format
        self.enhancer = enhancer.to(device, memory_format=memory_format)
        if self.classifier is not None and channels_last:
            self.classifier.to(memory_format=torch.channels_last)
        self._memory_format = memory_format
        self._model: nn.Module = self.enhancer
        if self.world > 1:
            self._model = data_parallel(self.enhancer, device)
        self._loss_terms = self.loss.terms
        if compile:
            backend = compile if isinstance(compile, str) else "inductor"
            self._model = torch.compile(self._model, backend=backend)  # type: ignore[assignment]
            self._loss_terms = torch.compile(self.loss.terms, backend=backend)
        #: What a step minimises; the loop below only takes the steps.
        self.objective = JointObjective(self._model, self.classifier, self._loss_terms,
                                        target_exposure=settings.target_exposure, amp=amp, device_type=device.type)
        self.optimizer = torch.optim.Adam(self.enhancer.parameters(), lr=lr)
        self.history: list[dict[str, float]] = []
        #: Optimiser steps taken by the last ``fit`` call (0 when it resumed a finished run).
        self.trained_steps = 0
        rec_weights = dataclasses.asdict(reconstruction.weights)
        self.config: dict[str, Any] = {
            "enhancer": type(enhancer).__name__,
            "enhancer_config": enhancer.config if isinstance(enhancer, Enhancer) else None,
            "classifier": None if self.classifier is None else type(self.classifier.classifier).__name__,
            "classifier_stages": None if self.classifier is None else list(self.classifier.stages),
            "loss_weights": dict(self.loss.weights),
            "reconstruction_weights": rec_weights,
            "perceptual_feature_net": _describe_feature_net(reconstruction),
            "circular_hue": reconstruction.circular_hue,
            "optimizer": "Adam",
            "lr": lr,
            "batch_size": batch_size,
            "schedule": settings.schedule,
            "clip_grad_norm": settings.clip_grad_norm,
            "amp": amp,
            "compile": compile,
            "channels_last": channels_last,
            "log_every": settings.log_every,
            "seed": settings.seed,
            "world_size": self.world,
        }
        if settings.target_exposure:  # only when used: runs from before the option resume as they were
            self.config["target_exposure"] = True
        if data is not None:
            self.config["data"] = dict(data)

    # -- pieces of a step -------------------------------------------------

    # The run settings, read from `settings` (one copy of each; `TrainerSettings` checked them).
    lr = property(lambda self: self.settings.lr, doc="Adam's learning rate (the schedule's peak).")
    batch_size = property(lambda self: self.settings.batch_size, doc="Pairs per step, over all ranks.")
    schedule = property(lambda self: self.settings.schedule, doc="The learning-rate schedule.")
    clip_grad_norm = property(lambda self: self.settings.clip_grad_norm, doc="Gradient-norm clip, or None.")
    amp = property(lambda self: self.settings.amp, doc="bfloat16 autocast (CUDA).")
    seed = property(lambda self: self.settings.seed, doc="Seeds data order and augmentation.")
    target_exposure = property(lambda self: self.settings.target_exposure,
                               doc="Compare the output brought to the reference's exposure.")
    num_workers = property(lambda self: self.settings.num_workers, doc="DataLoader workers.")
    log_every = property(lambda self: self.settings.log_every, doc="Steps between history entries.")
    checkpoint_every = property(lambda self: self.settings.checkpoint_every, doc="Steps between checkpoints.")
    val_every = property(lambda self: self.settings.val_every, doc="Steps between validations.")

    @property
    def checkpoint_dir(self) -> Path | None:
        """Where checkpoints go (None: none are written)."""
        folder = self.settings.checkpoint_dir
        return Path(folder) if folder is not None else None

    @property
    def progress(self) -> bool:
        """Whether this rank shows progress bars (rank 0 only)."""
        return self.settings.progress and self.rank == 0

    def _unpack(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(
                "`train` items expected (low, normal) or (low, normal, label), "
                f"got {type(batch).__name__} of length {len(batch) if isinstance(batch, (tuple, list)) else '-'}"
            )
        low, normal = (b.to(self.device, non_blocking=True, memory_format=self._memory_format) for b in batch[:2])
        labels = batch[2].to(self.device, non_blocking=True) if len(batch) == 3 else None
        return low, normal, labels

    def _terms(self, low: torch.Tensor, normal: torch.Tensor, labels: torch.Tensor | None,
               host_labels: Any = None) -> dict[str, torch.Tensor]:
        """Every loss term of one batch, and their weighted sum under ``"total"`` (`JointObjective`)."""
        return self.objective(low, normal, labels, host_labels)

    def _step(self, batch: Any, scheduler: Any) -> dict[str, torch.Tensor]:
        terms = self._terms(*self._unpack(batch), host_labels=batch[2] if len(batch) == 3 else None)
        self.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        if self.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.enhancer.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        scheduler.step()
        return {k: v.detach() for k, v in terms.items()}

    def _check_first_batch(self, batch: Any) -> None:
        """Value checks where the user's data enters: once per ``fit`` (the steps run unchecked), on the batch
        as loaded (on the host: no copy to the device and no device-to-host read for the check)."""
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            self._unpack(batch)  # raises, naming what train items must be
        check_image(batch[0], "train (low-light images)")
        check_image(batch[1], "train (normal-light images)")

    def _scheduler(self, iterations: int) -> torch.optim.lr_scheduler.LRScheduler:
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=iterations, eta_min=self.lr * 0.01)
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _: 1.0)

    # -- validation ---------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, val: Dataset, *, batch_size: int = 1) -> dict[str, float]:
        """PSNR, SSIM and CIEDE2000 (per-image means, RGB, [0, 1]) of the enhanced
        images against the normal-light ones, and, with a classifier and labels,
        its accuracy on the enhanced images (`llenhance.evaluation.evaluate_pairs`)."""
        from llenhance.evaluation import evaluate_pairs

        was_training = self.enhancer.training
        self.enhancer.eval()
        try:
            scores = evaluate_pairs(self.enhancer, val, classifier=self.classifier, batch_size=batch_size,  # type: ignore[arg-type]
                                    device=self.device, progress=False, name="val")
        finally:
            self.enhancer.train(was_training)
        metrics = {"val_psnr": scores["psnr"], "val_ssim": scores["ssim"], "val_ciede2000": scores["ciede2000"]}
        if "accuracy" in scores:
            metrics["val_accuracy"] = scores["accuracy"]
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
            dict: The last logged metrics: the iteration, the loss and its
                terms (means over the last ``log_every`` iterations), and the
                validation metrics when ``val`` is given.

        Raises:
            FloatingPointError: the loss became NaN or infinite (named with
                the iteration window where it happened).
        """
        check_positive_int(iterations, "iterations")
        if not isinstance(train, Sized) or len(train) < self.batch_size:
            size = len(train) if isinstance(train, Sized) else "unknown"
            raise ValueError(f"`train` expected at least batch_size={self.batch_size} items, got {size}")
        per_epoch = len(train) // self.batch_size
        scheduler = self._scheduler(iterations)
        start = epoch = position = 0
        window: dict[str, Any] = {"sums": {}, "steps": 0}
        self.trained_steps = 0
        checkpoint = self._resume_path(resume)
        if checkpoint is not None:
            state = load_checkpoint(checkpoint, iterations=iterations, config=self.config, device=self.device)
            self.enhancer.load_state_dict(state["enhancer"])
            self.optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            restore_rng(state["rng"])
            self.history = list(state["history"])
            start, epoch, position = state["iteration"], state["epoch"], state["position"]
            window = state.get("window", window)
        self.enhancer.train()
        if self.classifier is not None:
            self.classifier.train()  # keeps the classifier itself in eval mode
        sampler = _RunBatches(len(train), self.batch_size, seed=self.seed, epoch=epoch, start=position,
                              rank=self.rank, world=self.world)
        loader = DataLoader(_EpochItems(train), batch_sampler=sampler, num_workers=self.num_workers,
                            collate_fn=_collate, pin_memory=self.device.type == "cuda")
        bar = tqdm(total=iterations, initial=start, disable=not self.progress, desc="train", dynamic_ncols=True)
        last: dict[str, float] = {"iteration": start}
        for iteration, batch in enumerate(itertools.islice(loader, iterations - start), start=start + 1):
            if iteration == start + 1:
                self._check_first_batch(batch)
            with unchecked():  # checked once above; no device-to-host transfer inside a step
                terms = self._step(batch, scheduler)
            self.trained_steps += 1
            sums = window["sums"]
            window["sums"] = {k: sums[k] + v if k in sums else v for k, v in terms.items()}
            window["steps"] += 1
            bar.update(1)
            done = iteration == iterations
            validate = val is not None and self.rank == 0 and (
                done or (self.val_every is not None and iteration % self.val_every == 0))
            if done or validate or iteration % self.log_every == 0:
                last = self._log(iteration, window)
                window = {"sums": {}, "steps": 0}
                if validate:
                    last.update(self.evaluate(val))  # type: ignore[arg-type]
                    bar.write(json.dumps({k: round(v, 5) for k, v in last.items()}))
                bar.set_postfix(loss=f"{last['loss']:.4f}")
                if self.rank == 0:
                    self.history.append(last)
            if done or iteration % self.checkpoint_every == 0:
                self._check_finite(start, iteration, window)
                epoch, position = divmod(epoch * per_epoch + position + iteration - start, per_epoch)
                start = iteration
                self._save_checkpoint(iteration, epoch, position, iterations, scheduler, window)
        bar.close()
        if self.trained_steps == 0 and self.history:  # resumed a finished run: its own final metrics
            return dict(self.history[-1])
        return last

    def _log(self, iteration: int, window: dict[str, Any]) -> dict[str, float]:
        """The window's mean loss terms: one device-to-host transfer."""
        names = sorted(window["sums"])
        values = torch.stack([window["sums"][k].float() for k in names]).div(window["steps"]).tolist()
        means = dict(zip(names, values))
        bad = [k for k, v in means.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(
                f"the loss became NaN or infinite in iterations {iteration - window['steps'] + 1}-{iteration} "
                f"(terms {bad}); lower `lr`, set `clip_grad_norm`, or check the data of those batches"
            )
        last = {"iteration": iteration, "loss": means.pop("total")}
        last.update(means)
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

    def _check_finite(self, since: int, iteration: int, window: dict[str, Any]) -> None:
        """Before a checkpoint replaces the last one: the loss since the last log and every weight are finite
        (one device-to-host transfer per checkpoint). A NaN batch between two logs would otherwise be
        written over the last good checkpoint, and a resumed run would start from NaN weights."""
        if self.checkpoint_dir is None or self.rank != 0:
            return
        flags = [torch.isfinite(v).all() for v in window["sums"].values()]
        flags += [torch.isfinite(p).all() for p in self.enhancer.parameters()]
        if flags and not bool(torch.stack(flags).all()):
            path = self.checkpoint_dir / CHECKPOINT_NAME
            kept = f"{path} (iteration {since}) is kept" if path.is_file() else "no checkpoint was written"
            raise FloatingPointError(
                f"the loss or the weights became NaN or infinite in iterations {since + 1}-{iteration}; {kept}. "
                "Lower `lr`, set `clip_grad_norm`, or check the data of those batches"
            )

    def _save_checkpoint(
        self, iteration: int, epoch: int, position: int, iterations: int, scheduler: Any, window: dict[str, Any]
    ) -> None:
        if self.checkpoint_dir is None or self.rank != 0:
            return
        save_checkpoint(self.checkpoint_dir / CHECKPOINT_NAME, {
            "iteration": iteration,
            "iterations": iterations,
            "epoch": epoch,
            "position": position,
            "enhancer": self.enhancer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "window": window,
            "config": self.config,
            "history": self.history,
        })
