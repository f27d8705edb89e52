"""llenhance: low-light enhancement for facial expression recognition (LL-FER)."""

from __future__ import annotations

from llenhance import data, losses, metrics
from llenhance.classifier import ClassifierPreprocess, FrozenClassifier
from llenhance.models import LLENet, llenet_b, llenet_s
from llenhance.training import FERGuidedTrainer
from llenhance.transforms import LowLightSynth, add_sensor_noise, synthesize_low_light

__all__ = [
    "ClassifierPreprocess",
    "FERGuidedTrainer",
    "FrozenClassifier",
    "LLENet",
    "LowLightSynth",
    "add_sensor_noise",
    "data",
    "llenet_b",
    "llenet_s",
    "losses",
    "metrics",
    "synthesize_low_light",
]

__version__ = "0.1.0"
