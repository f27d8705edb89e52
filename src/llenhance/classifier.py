"""A user's FER classifier, frozen, with its preprocessing and stage features.

The enhancer works on RGB in [0, 1]; classifiers expect their own input
(a size, grayscale, mean/std). ``ClassifierPreprocess`` bridges the two,
differentiably, and ``FrozenClassifier`` runs the classifier frozen (no
parameter or BatchNorm statistic changes) while letting gradients flow back to
the enhancer, collecting the outputs of its stages with forward hooks
(paper Eq. 12).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llenhance._checks import PRED_RANGE_SLACK, check_image, check_logits
from llenhance._color import LUMA
from llenhance.losses.perceptual import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["ClassifierPreprocess", "FrozenClassifier", "FrozenEnsemble", "check_input_channels", "check_preprocess",
           "find_stages"]



class ClassifierPreprocess(nn.Module):
    """Differentiable map from enhancer output (RGB in [0, 1]) to classifier input.

    Steps, each optional: bilinear resize (antialiased) to ``size``; grayscale
    (BT.601 luma, one channel); ``(x - mean) / std``.

    Args:
        size: (H, W) or a single int for a square; ``None`` keeps the size.
        grayscale: convert to one channel.
        mean: per-channel mean (3 values, or 1 with ``grayscale``);
            ``None`` (with ``std=None``) skips normalisation. Default: ImageNet's.
        std: per-channel standard deviation, as ``mean``.

    Examples:
        >>> pre = ClassifierPreprocess(size=48, grayscale=True, mean=(0.5,), std=(0.5,))
        >>> pre(torch.rand(2, 3, 100, 80)).shape
        torch.Size([2, 1, 48, 48])
    """

    def __init__(
        self,
        *,
        size: int | tuple[int, int] | None = None,
        grayscale: bool = False,
        mean: Sequence[float] | None = IMAGENET_MEAN,
        std: Sequence[float] | None = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if isinstance(size, int):
            size = (size, size)
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"`size` expected an int or (H, W) of positive ints, got {size!r}")
        self.size = tuple(size) if size is not None else None
        self.grayscale = grayscale
        channels = 1 if grayscale else 3
        if (mean is None) != (std is None):
            raise ValueError("`mean` and `std` expected both or neither, got one of them None")
        self.normalize = mean is not None
        if mean is not None and std is not None:
            if len(mean) != channels or len(std) != channels:
                raise ValueError(
                    f"`mean`/`std` expected {channels} values each (grayscale={grayscale}), "
                    f"got {len(mean)} and {len(std)}"
                )
            if min(std) <= 0:
                raise ValueError(f"`std` expected positive values, got {tuple(std)}")
        self.register_buffer("mean", torch.tensor(mean or [0.0] * channels).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std or [1.0] * channels).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("gray", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        if self.grayscale:
            x = (x * self.gray.to(x.dtype)).sum(dim=1, keepdim=True)
        if self.normalize:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return x

    def extra_repr(self) -> str:
        mean = tuple(self.mean.flatten().tolist()) if self.normalize else None
        std = tuple(self.std.flatten().tolist()) if self.normalize else None
        return f"size={self.size}, grayscale={self.grayscale}, mean={mean}, std={std}"


def check_preprocess(preprocess: Any) -> Any:
    """``preprocess`` if it can be called on a batch; a clear error for settings given as a dict or the like.

    Examples:
        >>> check_preprocess({"size": 48})
        Traceback (most recent call last):
        ...
        TypeError: `preprocess` expected a module or callable such as ClassifierPreprocess(size=48), got a dict; pass ClassifierPreprocess(**settings)
    """
    if not callable(preprocess):
        hint = "; pass ClassifierPreprocess(**settings)" if isinstance(preprocess, dict) else ""
        raise TypeError(f"`preprocess` expected a module or callable such as ClassifierPreprocess(size=48), got a "
                        f"{type(preprocess).__name__}{hint}")
    return preprocess


def check_input_channels(classifier: nn.Module, preprocess: nn.Module) -> None:
    """Refuse a classifier whose first convolution takes other channels than ``preprocess`` gives it.

    A grey classifier (1 input channel) behind a colour preprocessing, or a colour one behind
    ``grayscale=True``, would otherwise fail inside the first forward pass with a shape error, or
    (grouped tricks aside) run on the wrong input. Only `ClassifierPreprocess` is checked (another
    preprocessing's channels are unknown), and only classifiers that have an ``nn.Conv2d``.

    Raises:
        ValueError: naming the first convolution, its channels and the preprocessing to use.

    Examples:
        >>> grey_net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten())
        >>> check_input_channels(grey_net, ClassifierPreprocess(grayscale=True, mean=(0.5,), std=(0.5,)))  # fine
    """
    if not isinstance(preprocess, ClassifierPreprocess):
        return
    first = next(((n, m) for n, m in classifier.named_modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        return
    name, conv = first
    given = 1 if preprocess.grayscale else 3
    if conv.in_channels != given:
        fix = "grayscale=True (CLI: --classifier-grayscale)" if conv.in_channels == 1 else \
            "grayscale=False (CLI: leave out --classifier-grayscale)"
        raise ValueError(
            f"`classifier` takes {conv.in_channels} input channel(s) (its first convolution, {name or 'the model'}), "
            f"but `preprocess` gives it {given} ({'grey' if given == 1 else 'RGB'}); use ClassifierPreprocess({fix})"
        )


def find_stages(model: nn.Module) -> list[str]:
    """Stage module names for common backbones.

    torchvision / timm ResNets (and any model with ``layer1``, ``layer2``, ...):
    the numbered layers; models with a ``stages``
    or ``layers`` container (timm ConvNeXt, Swin, ...): its children.

    Raises:
        ValueError: no known layout; the message lists the top-level children
            to choose ``stages`` from.
    """
    modules = dict(model.named_modules())
    numbered = []
    while f"layer{len(numbered) + 1}" in modules:
        numbered.append(f"layer{len(numbered) + 1}")
    if numbered:
        return numbered
    for container in ("stages", "layers"):
        block = modules.get(container)
        if isinstance(block, (nn.Sequential, nn.ModuleList)) and len(block) > 0:
            return [f"{container}.{i}" for i in range(len(block))]
    children = [name for name, _ in model.named_children()]
    raise ValueError(
        f"`stages` could not be found for {type(model).__name__}; pass stages=[...] with module "
        f"names (as in torchvision.models.feature_extraction), e.g. from its children {children}, "
        "or stages=[] to use no stage features"
    )


class FrozenClassifier(nn.Module):
    """Run a user's classifier frozen, with preprocessing and stage features.

    The classifier is put in eval mode (BatchNorm statistics and dropout
    fixed) and ``requires_grad_(False)``; it stays in eval mode when this
    module is put in train mode. Gradients still flow through it to its input.
    This changes *your* module (it is not copied): `release` gives it back
    with the mode and the ``requires_grad`` flags it had, e.g. to fine-tune it
    after the enhancer was trained in front of it.

    Args:
        classifier: any ``nn.Module`` mapping an image batch to logits.
        preprocess: what the classifier expects (default: ImageNet mean/std,
            no resize).
        stages: module names whose outputs are the stage features
            (``"layer1"``, ``"stages.2"``, ...); ``None`` finds them for common
            backbones (`find_stages`); ``[]`` collects none.
        logits_fn: picks the logits from the classifier's output, for models
            that return tuples or dicts (e.g. ``lambda out: out[0]``).

    Examples:
        >>> import torchvision
        >>> fer = FrozenClassifier(torchvision.models.resnet18(num_classes=7))
        >>> logits, features = fer.forward_features(torch.rand(2, 3, 64, 64))
        >>> logits.shape, [f.shape[1] for f in features]
        (torch.Size([2, 7]), [64, 128, 256, 512])
    """

    def __init__(
        self,
        classifier: nn.Module,
        *,
        preprocess: nn.Module | None = None,
        stages: Sequence[str] | None = None,
        logits_fn: Callable[[Any], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(classifier, nn.Module):
            raise TypeError(f"`classifier` expected an nn.Module, got {type(classifier).__name__}")
        self._given = (classifier.training, {n: p.requires_grad for n, p in classifier.named_parameters()})
        self.classifier = classifier.eval().requires_grad_(False)
        self.preprocess = check_preprocess(preprocess) if preprocess is not None else ClassifierPreprocess()
        check_input_channels(classifier, self.preprocess)
        self.logits_fn = logits_fn
        self.stages = tuple(find_stages(classifier) if stages is None else stages)
        modules = dict(classifier.named_modules())
        unknown = [s for s in self.stages if s not in modules]
        if unknown:
            raise ValueError(f"`stages` expected module names of the classifier, got unknown {unknown}")
        self._captured: list[torch.Tensor] | None = None
        self._hooks = [modules[name].register_forward_hook(self._capture) for name in self.stages]

    def release(self) -> nn.Module:
        """The classifier as it was given: its own train/eval mode and ``requires_grad`` flags back, the stage
        hooks removed. This wrapper must not be used afterwards.

        Examples:
            >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()).train()
            >>> frozen = FrozenClassifier(net, stages=[])
            >>> net.training, net[0].weight.requires_grad
            (False, False)
            >>> frozen.release() is net, net.training, net[0].weight.requires_grad
            (True, True, True)
        """
        training, flags = self._given
        for handle in self._hooks:
            handle.remove()
        self._hooks = []
        for name, parameter in self.classifier.named_parameters():
            parameter.requires_grad_(flags.get(name, parameter.requires_grad))
        return self.classifier.train(training)

    def _capture(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._captured is not None:
            self._captured.append(output)

    def train(self, mode: bool = True) -> FrozenClassifier:
        super().train(mode)
        self.classifier.eval()
        return self

    def _logits(self, output: Any, batch: int) -> torch.Tensor:
        if self.logits_fn is not None:
            output = self.logits_fn(output)
        elif not isinstance(output, torch.Tensor):
            raise TypeError(
                f"`classifier` returned {type(output).__name__}, expected a (B, num_classes) tensor; "
                "pass logits_fn=... to pick the logits (e.g. lambda out: out[0])"
            )
        return check_logits(output, "classifier output", batch=batch)

    def forward_features(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and stage features of RGB images in [0, 1], (B, 3, H, W)."""
        check_image(images, "images", slack=PRED_RANGE_SLACK)
        self._captured = []
        try:
            output = self.classifier(self.preprocess(images))
            features = self._captured
        finally:
            self._captured = None
        if len(features) != len(self.stages):
            raise RuntimeError(
                f"stages {list(self.stages)} produced {len(features)} outputs in one forward pass; "
                "each stage module must run exactly once"
            )
        return self._logits(output, images.shape[0]), features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of RGB images in [0, 1], (B, 3, H, W)."""
        check_image(images, "images", slack=PRED_RANGE_SLACK)
        return self._logits(self.classifier(self.preprocess(images)), images.shape[0])


class FrozenEnsemble(FrozenClassifier):
    """Several frozen classifiers read as one guide (train an enhancer for all of them at once).

    The logits are the mean of the members' log-probabilities (the log of the
    geometric mean of their class probabilities, up to a constant); the stage
    features are every member's, in member order, so the feature loss sums
    over the stages of all members. Every member must predict the same
    classes in the same order.

    Args:
        members: ``FrozenClassifier`` modules (or plain classifiers, wrapped
            with ImageNet normalisation and automatic stages).

    Examples:
        >>> import torchvision
        >>> guide = FrozenEnsemble([torchvision.models.resnet18(num_classes=7),
        ...                         torchvision.models.resnet34(num_classes=7)])
        >>> logits, features = guide.forward_features(torch.rand(2, 3, 64, 64))
        >>> logits.shape, len(features)
        (torch.Size([2, 7]), 8)
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        nn.Module.__init__(self)
        if isinstance(members, nn.Module) or not isinstance(members, Sequence) or not members:
            raise TypeError(f"`members` expected a non-empty list of classifiers, got {type(members).__name__}")
        wrapped = [m if isinstance(m, FrozenClassifier) else FrozenClassifier(m) for m in members]
        self.classifier = nn.ModuleList(wrapped)
        self.stages = tuple(f"{i}.{stage}" for i, m in enumerate(wrapped) for stage in m.stages)

    def train(self, mode: bool = True) -> FrozenEnsemble:
        nn.Module.train(self, mode)
        for member in self.classifier:
            member.classifier.eval()
        return self

    def _combine(self, logits: list[torch.Tensor]) -> torch.Tensor:
        classes = {x.shape[1] for x in logits}
        if len(classes) > 1:
            raise ValueError(f"`members` expected classifiers with the same classes, got class counts {sorted(classes)}")
        return torch.stack([x.log_softmax(1) for x in logits]).mean(0)

    def forward_features(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Combined logits and every member's stage features."""
        logits, features = [], []
        for member in self.classifier:
            member_logits, member_features = member.forward_features(images)
            logits.append(member_logits)
            features.extend(member_features)
        return self._combine(logits), features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Combined logits."""
        return self._combine([member(images) for member in self.classifier])
