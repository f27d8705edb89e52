"""Put an enhancer in front of a FER classifier in two lines."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
from torch import nn

from llenhance.classifier import ClassifierPreprocess, check_input_channels, check_preprocess
from llenhance.inference import check_enhancer_output, load_enhancer
from llenhance.pretrained import DEFAULT_FACE_WEIGHTS

__all__ = ["EnhancedClassifier", "wrap"]


class EnhancedClassifier(nn.Module):
    """``classifier(preprocess(enhancer(images)))`` for RGB images in [0, 1].

    Arguments are given by name, in `wrap`'s order: ``EnhancedClassifier(classifier=..., enhancer=...)``.
    Positional arguments in the order of earlier versions (``enhancer, classifier, preprocess``) still work,
    with a ``DeprecationWarning``.

    Args:
        classifier: the user's classifier; its output is returned as it is
            (a tensor, a tuple, a dict).
        enhancer: the enhancement network (its output is clamped to [0, 1] in
            eval mode).
        preprocess: what the classifier expects (resize, grayscale, mean/std);
            default ImageNet mean/std, no resize.
    """

    def __init__(self, *args: Any, classifier: nn.Module | None = None, enhancer: nn.Module | None = None,
                 preprocess: nn.Module | None = None) -> None:
        super().__init__()
        if args:
            if len(args) > 3 or classifier is not None or enhancer is not None:
                raise TypeError("EnhancedClassifier expected classifier= and enhancer= by name")
            warnings.warn("EnhancedClassifier(enhancer, classifier, preprocess) by position is deprecated since "
                          "llenhance 0.4: name them, EnhancedClassifier(classifier=..., enhancer=...), the order "
                          "of wrap()", DeprecationWarning, stacklevel=2)
            enhancer, classifier = args[0], args[1] if len(args) > 1 else None
            if len(args) == 3:
                preprocess = args[2]
        for name, module in (("enhancer", enhancer), ("classifier", classifier)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"`{name}` expected an nn.Module, got {type(module).__name__}")
        self.enhancer = enhancer
        self.classifier = classifier
        self.preprocess = check_preprocess(preprocess) if preprocess is not None else ClassifierPreprocess()
        check_input_channels(classifier, self.preprocess)
        self._output_checked = False

    def forward(self, images: torch.Tensor) -> Any:
        enhanced = self.enhancer(images)
        # once: a wrong enhancer shows on its first batch. Not inside torch.compile: reading the values
        # back would split the graph (and CUDA graphs); run the wrapper once eagerly to have it checked.
        if not self._output_checked and not torch.compiler.is_compiling():
            check_enhancer_output(enhanced, images, "enhancer")
            self._output_checked = True
        return self.classifier(self.preprocess(enhanced))


def wrap(
    classifier: nn.Module,
    enhancer: nn.Module | str | None = None,
    preprocess: nn.Module | None = None,
) -> EnhancedClassifier:
    """Wrap a FER classifier so that it sees enhanced images.

    Args:
        classifier: any ``nn.Module`` classifier.
        enhancer: an enhancer module, a weights name / folder / Hub repo id,
            or ``None`` for the built-in default weights.
        preprocess: the classifier's input preprocessing, e.g.
            ``ClassifierPreprocess(size=48, grayscale=True, mean=(0.5,), std=(0.5,))``;
            default ImageNet mean/std.

    Returns:
        EnhancedClassifier: the wrapped model, in eval mode.

    Examples:
        >>> import torchvision
        >>> from llenhance import llenet_s
        >>> model = wrap(torchvision.models.resnet18(num_classes=7), llenet_s())
        >>> model(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 7])
    """
    # named weights come from a cache that enhance() shares: the wrapper gets its own copy
    if enhancer is None:
        enhancer = DEFAULT_FACE_WEIGHTS
    module = copy.deepcopy(load_enhancer(enhancer)) if isinstance(enhancer, str) else enhancer
    return EnhancedClassifier(classifier=classifier, enhancer=module, preprocess=preprocess).eval()
