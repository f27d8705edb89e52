from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llenhance.losses import (
    ClassificationLoss,
    FERFeatureLoss,
    JointLoss,
    LabelLoss,
    ReconstructionLoss,
    classification_loss,
    fer_feature_loss,
    label_loss,
)


class TestFerFeatureLoss:
    def test_hand_computed(self) -> None:
        e = [torch.zeros(2, 4, 8, 8), torch.ones(2, 8, 4, 4)]
        n = [torch.full((2, 4, 8, 8), 0.5), torch.full((2, 8, 4, 4), -1.0)]
        assert fer_feature_loss(e, n).item() == pytest.approx(0.5 + 2.0)
        torch.testing.assert_close(FERFeatureLoss()(e, n), fer_feature_loss(e, n))

    def test_gradcheck(self) -> None:
        e = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
        n = torch.randn(1, 2, 3, 3, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda x: fer_feature_loss([x, 2 * x], [n, n]), (e,))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="as many stages"):
            fer_feature_loss([torch.zeros(1)], [torch.zeros(1), torch.zeros(1)])
        with pytest.raises(ValueError, match=r"`normal_features\[0\]` expected shape \(1, 2\)"):
            fer_feature_loss([torch.zeros(1, 2)], [torch.zeros(1, 3)])
        with pytest.raises(TypeError, match="single tensor"):
            fer_feature_loss(torch.zeros(1, 2), torch.zeros(1, 2))


class TestClassificationAndLabelLoss:
    def test_hand_computed(self) -> None:
        logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        labels = torch.tensor([0, 2])
        # -log softmax: log(e^2 + 2) - 2 and log(2 + e) - 0
        ref = ((math.log(math.e**2 + 2) - 2) + math.log(2 + math.e)) / 2
        assert classification_loss(logits, labels).item() == pytest.approx(ref, rel=1e-6)
        torch.testing.assert_close(ClassificationLoss()(logits, labels), classification_loss(logits, labels))

    def test_label_loss_uses_argmax_of_normal(self) -> None:
        logits = torch.randn(4, 7, requires_grad=True)
        normal = torch.randn(4, 7, requires_grad=True)
        loss = label_loss(logits, normal)
        torch.testing.assert_close(loss, F.cross_entropy(logits, normal.argmax(1)))
        loss.backward()
        assert normal.grad is None  # the normal-light prediction is a target, not trained
        torch.testing.assert_close(LabelLoss()(logits, normal), loss)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match=r"`labels` expected class indices in \[0, 2\], got range \[0, 3\]"):
            classification_loss(torch.randn(2, 3), torch.tensor([0, 3]))
        with pytest.raises(TypeError, match="`labels` expected an integer class-index tensor, got dtype torch.float32"):
            classification_loss(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
        with pytest.raises(ValueError, match=r"`logits` expected shape \(B, num_classes\)"):
            classification_loss(torch.randn(2), torch.tensor([0, 1]))
        with pytest.raises(ValueError, match="`normal_logits` expected batch size 2, got 3"):
            label_loss(torch.randn(2, 3), torch.randn(3, 3))


class TestJointLoss:
    def _outputs(self) -> dict:
        return {
            "enhanced_features": [torch.rand(2, 4, 4, 4)],
            "normal_features": [torch.rand(2, 4, 4, 4)],
            "logits": torch.randn(2, 5),
            "normal_logits": torch.randn(2, 5),
            "labels": torch.tensor([1, 4]),
        }

    def test_total_is_eq_13(self) -> None:
        rec = ReconstructionLoss(perceptual=0)
        e, n = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        o = self._outputs()
        loss = JointLoss(rec, rec=2.0, ferp=0.5, cls=1.0, label=3.0)
        ref = (
            2.0 * rec(e, n)
            + 0.5 * fer_feature_loss(o["enhanced_features"], o["normal_features"])
            + classification_loss(o["logits"], o["labels"])
            + 3.0 * label_loss(o["logits"], o["normal_logits"])
        )
        torch.testing.assert_close(loss(e, n, **o), ref)

    def test_unlabelled_data_needs_cls_off(self) -> None:
        e = torch.rand(2, 3, 16, 16)
        o = self._outputs() | {"labels": None}
        with pytest.raises(ValueError, match="`labels` expected class indices when the `cls` weight is > 0"):
            JointLoss(ReconstructionLoss(perceptual=0))(e, e, **o)
        terms = JointLoss(ReconstructionLoss(perceptual=0), cls=0).terms(e, e, **o)
        # the FER terms and L_rec, with L_rec's own terms for logging
        assert set(terms) == {"rec", "ferp", "label", "total", "l1", "mse", "color", "frequency", "structure"}

    def test_reconstruction_only(self) -> None:
        """Without classifier outputs the FER terms must be off; then it is L_rec, weighted, with its parts."""
        rec = ReconstructionLoss(perceptual=0)
        e, n = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        with pytest.raises(ValueError, match="`enhanced_features` expected the classifier's outputs"):
            JointLoss(rec).terms(e, n)
        terms = JointLoss(rec, rec=2.0, ferp=0, cls=0, label=0).terms(e, n)
        parts = rec.terms(e, n)
        torch.testing.assert_close(terms["total"], 2.0 * parts["total"])
        for name in ("l1", "mse", "color", "frequency", "structure"):
            torch.testing.assert_close(terms[name], parts[name])

    def test_checks_once_and_names_the_argument(self) -> None:
        o = self._outputs()
        with pytest.raises(ValueError, match=r"`normal` expected values in \[0, 1\]"):
            JointLoss(ReconstructionLoss(perceptual=0))(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8) * 255, **o)
        with pytest.raises(ValueError, match="`logits` expected finite values"):
            JointLoss(ReconstructionLoss(perceptual=0))(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8),
                                                        **(o | {"logits": torch.full((2, 5), float("nan"))}))

    def test_rec_off_builds_no_reconstruction_loss(self) -> None:
        assert JointLoss(rec=0).reconstruction is None

    def test_negative_weight(self) -> None:
        with pytest.raises(ValueError, match="`label` expected a non-negative number"):
            JointLoss(ReconstructionLoss(perceptual=0), label=-1)
