"""The losses of LL-FER (paper Eqs. 6-13), each a function and an ``nn.Module``."""

from __future__ import annotations

from llenhance.losses.color import ColorLoss, color_loss, rgb_to_hsi
from llenhance.losses.fer import (
    ClassificationLoss,
    FERFeatureLoss,
    JointLoss,
    LabelLoss,
    classification_loss,
    fer_feature_loss,
    label_loss,
)
from llenhance.losses.frequency import FrequencyLoss, frequency_loss, haar_dwt
from llenhance.losses.perceptual import PerceptualLoss, perceptual_loss, vgg16_relu3_3
from llenhance.losses.reconstruction import ReconstructionLoss, ReconstructionWeights
from llenhance.losses.structure import SSIMLoss, ssim_loss

__all__ = [
    "ClassificationLoss",
    "ColorLoss",
    "FERFeatureLoss",
    "FrequencyLoss",
    "JointLoss",
    "LabelLoss",
    "PerceptualLoss",
    "ReconstructionLoss",
    "ReconstructionWeights",
    "SSIMLoss",
    "classification_loss",
    "color_loss",
    "fer_feature_loss",
    "frequency_loss",
    "haar_dwt",
    "label_loss",
    "perceptual_loss",
    "rgb_to_hsi",
    "ssim_loss",
    "vgg16_relu3_3",
]
