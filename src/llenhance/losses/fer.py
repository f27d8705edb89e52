"""FER-side losses of the joint training (paper Eqs. 12-13).

The classifier is not called here: these functions take its outputs (stage
features and logits), so they work with any classifier and any way of
running it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from llenhance._checks import check_image_pair, check_logits, check_nonnegative, unchecked, value_checks_enabled
from llenhance.losses.reconstruction import ReconstructionLoss

__all__ = [
    "ClassificationLoss",
    "FERFeatureLoss",
    "JointLoss",
    "LabelLoss",
    "check_label_range",
    "classification_loss",
    "fer_feature_loss",
    "label_loss",
]


def fer_feature_loss(
    enhanced_features: Sequence[torch.Tensor], normal_features: Sequence[torch.Tensor]
) -> torch.Tensor:
    """FER-based perceptual loss, paper Eq. 12: sum over stages of L1(E_s, N_s).

    Args:
        enhanced_features: the classifier's stage outputs for the enhanced image.
        normal_features: the same stages for the normal-light image.

    Returns:
        Tensor: a scalar, the sum over stages of the mean absolute difference.

    Examples:
        >>> e = [torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4)]
        >>> n = [torch.ones(1, 4, 8, 8), torch.full((1, 8, 4, 4), 2.0)]
        >>> float(fer_feature_loss(e, n))
        3.0
    """
    if isinstance(enhanced_features, torch.Tensor) or isinstance(normal_features, torch.Tensor):
        raise TypeError(
            "`enhanced_features` and `normal_features` expected sequences of stage tensors, "
            "got a single tensor (wrap it in a list)"
        )
    if len(enhanced_features) != len(normal_features) or not enhanced_features:
        raise ValueError(
            f"`normal_features` expected as many stages as `enhanced_features` "
            f"({len(enhanced_features)}, at least 1), got {len(normal_features)}"
        )
    total = None
    for s, (e, n) in enumerate(zip(enhanced_features, normal_features)):
        if e.shape != n.shape:
            raise ValueError(
                f"`normal_features[{s}]` expected shape {tuple(e.shape)} "
                f"(of `enhanced_features[{s}]`), got {tuple(n.shape)}"
            )
        term = F.l1_loss(e, n)
        total = term if total is None else total + term
    return total  # type: ignore[return-value]


def _check_labels(labels: object, logits: torch.Tensor) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32):
        got = f"dtype {labels.dtype}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"`labels` expected an integer class-index tensor, got {got}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"`labels` expected shape ({logits.shape[0]},), got {tuple(labels.shape)}")
    if value_checks_enabled():  # reading the range is a device-to-host transfer: not inside a training step
        check_label_range(labels, logits.shape[1])
    return labels.long()


def check_label_range(labels: torch.Tensor, classes: int) -> None:
    """Refuse class indices outside [0, classes) (on a GPU tensor this waits for the device: check on the host).

    Examples:
        >>> check_label_range(torch.tensor([0, 7]), 7)
        Traceback (most recent call last):
        ...
        ValueError: `labels` expected class indices in [0, 6], got range [0, 7]
    """
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError(f"`labels` expected class indices in [0, {classes - 1}], "
                         f"got range [{int(labels.min())}, {int(labels.max())}]")


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_cls: cross-entropy of the classifier's logits on the enhanced image.

    Args:
        logits: (B, num_classes) logits of the enhanced image.
        labels: (B,) ground-truth class indices.

    Examples:
        >>> logits = torch.tensor([[0.0, 0.0]])
        >>> round(float(classification_loss(logits, torch.tensor([1]))), 4)  # log 2
        0.6931
    """
    check_logits(logits, "logits")
    return F.cross_entropy(logits, _check_labels(labels, logits))


def label_loss(logits: torch.Tensor, normal_logits: torch.Tensor) -> torch.Tensor:
    """L_label: cross-entropy against the class the classifier gives the normal image.

    Args:
        logits: (B, num_classes) logits of the enhanced image.
        normal_logits: (B, num_classes) logits of the normal-light image; only
            their argmax is used (no gradient flows through it).

    Examples:
        >>> logits = torch.tensor([[0.0, 0.0]])
        >>> round(float(label_loss(logits, torch.tensor([[0.0, 5.0]]))), 4)
        0.6931
    """
    check_logits(logits, "logits")
    check_logits(normal_logits, "normal_logits", batch=logits.shape[0])
    if normal_logits.shape != logits.shape:
        raise ValueError(
            f"`normal_logits` expected shape {tuple(logits.shape)}, got {tuple(normal_logits.shape)}"
        )
    return F.cross_entropy(logits, normal_logits.detach().argmax(dim=1))


class FERFeatureLoss(nn.Module):
    """Module form of `fer_feature_loss`."""

    def forward(
        self, enhanced_features: Sequence[torch.Tensor], normal_features: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        return fer_feature_loss(enhanced_features, normal_features)


class ClassificationLoss(nn.Module):
    """Module form of `classification_loss`."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return classification_loss(logits, labels)


class LabelLoss(nn.Module):
    """Module form of `label_loss`."""

    def forward(self, logits: torch.Tensor, normal_logits: torch.Tensor) -> torch.Tensor:
        return label_loss(logits, normal_logits)


class JointLoss(nn.Module):
    """Joint loss, paper Eq. 13: L_rec + L_ferp + L_cls + L_label, each weighted.

    Args:
        reconstruction: the L_rec module (default: paper weights, which need
            VGG-16 ImageNet weights for the perceptual term; pass
            ``ReconstructionLoss(perceptual=0)`` where they are unavailable).
        rec: weight of L_rec (a term with weight 0 is not computed).
        ferp: weight of L_ferp, the stage-feature loss.
        cls: weight of L_cls, the cross-entropy against the true labels.
        label: weight of L_label, the cross-entropy against the classifier's
            prediction on the normal-light image.

    Examples:
        >>> loss = JointLoss(ReconstructionLoss(perceptual=0))
        >>> x = torch.rand(2, 3, 16, 16)
        >>> feats = [torch.rand(2, 4, 8, 8)]
        >>> logits = torch.randn(2, 7)
        >>> terms = loss.terms(x, x, enhanced_features=feats, normal_features=feats,
        ...                    logits=logits, normal_logits=logits, labels=torch.tensor([0, 3]))
        >>> sorted(terms)
        ['cls', 'color', 'ferp', 'frequency', 'l1', 'label', 'mse', 'rec', 'structure', 'total']
    """

    def __init__(
        self,
        reconstruction: ReconstructionLoss | None = None,
        *,
        rec: float = 1.0,
        ferp: float = 1.0,
        cls: float = 1.0,
        label: float = 1.0,
    ) -> None:
        super().__init__()
        self.weights = {
            "rec": check_nonnegative(rec, "rec"),
            "ferp": check_nonnegative(ferp, "ferp"),
            "cls": check_nonnegative(cls, "cls"),
            "label": check_nonnegative(label, "label"),
        }
        self.reconstruction = (
            reconstruction if reconstruction is not None else ReconstructionLoss()
        ) if rec > 0 else None

    def terms(
        self,
        enhanced: torch.Tensor,
        normal: torch.Tensor,
        *,
        enhanced_features: Sequence[torch.Tensor] | None = None,
        normal_features: Sequence[torch.Tensor] | None = None,
        logits: torch.Tensor | None = None,
        normal_logits: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every computed term, unweighted, plus the weighted sum under ``"total"``.

        Besides ``rec``, ``ferp``, ``cls`` and ``label``, the reconstruction
        loss's own terms (``l1``, ``mse``, ``color``, ...) are returned, for
        logging. The classifier outputs may be ``None`` when the weights of the
        terms that need them are 0 (reconstruction only: ``enhanced`` and
        ``normal`` suffice); ``labels`` may be ``None`` only when ``cls`` is 0.
        """
        needs = {"ferp": ("enhanced_features", "normal_features"), "cls": ("logits", "labels"),
                 "label": ("logits", "normal_logits")}
        given = {"enhanced_features": enhanced_features, "normal_features": normal_features, "logits": logits,
                 "normal_logits": normal_logits, "labels": labels}
        for term, names in needs.items():
            missing = [n for n in names if given[n] is None]
            if self.weights[term] > 0 and missing:
                what = "class indices" if missing[0] == "labels" else "the classifier's outputs"
                raise ValueError(f"`{missing[0]}` expected {what} when the `{term}` weight is > 0, got None")
        check_image_pair(enhanced, normal, names=("enhanced", "normal"))
        if logits is not None:
            check_logits(logits, "logits")
        out: dict[str, torch.Tensor] = {}
        total = enhanced.new_zeros(())
        with unchecked():  # inputs checked once above
            if self.weights["rec"] > 0:
                rec_terms = self.reconstruction.terms(enhanced, normal)  # type: ignore[union-attr]
                out["rec"] = rec_terms.pop("total")
                total = total + self.weights["rec"] * out["rec"]
            compute = {
                "ferp": lambda: fer_feature_loss(enhanced_features, normal_features),  # type: ignore[arg-type]
                "cls": lambda: classification_loss(logits, labels),  # type: ignore[arg-type]
                "label": lambda: label_loss(logits, normal_logits),  # type: ignore[arg-type]
            }
            for name, term in compute.items():
                if self.weights[name] > 0:
                    out[name] = term()
                    total = total + self.weights[name] * out[name]
        if self.weights["rec"] > 0:
            out.update(rec_terms)
        out["total"] = total
        return out

    def forward(self, enhanced: torch.Tensor, normal: torch.Tensor, **outputs: object) -> torch.Tensor:
        """Weighted sum; keyword arguments as in `terms`."""
        return self.terms(enhanced, normal, **outputs)["total"]  # type: ignore[arg-type]
