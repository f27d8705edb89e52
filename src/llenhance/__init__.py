"""llenhance: low-light enhancement for facial expression recognition (LL-FER)."""

from __future__ import annotations

from llenhance import data, losses, metrics
from llenhance.classifier import ClassifierPreprocess, FrozenClassifier, FrozenEnsemble
from llenhance.inference import enhance
from llenhance.models import LLENet, llenet_b, llenet_s
from llenhance.training import FERGuidedTrainer
from llenhance.pretrained import DEFAULT_WEIGHTS, list_pretrained
from llenhance.transforms import LowLightSynth, add_sensor_noise, synthesize_low_light
from llenhance.wrap import EnhancedClassifier, wrap

__all__ = [
    "DEFAULT_WEIGHTS",
    "ClassifierPreprocess",
    "EnhancedClassifier",
    "FERGuidedTrainer",
    "FrozenClassifier",
    "FrozenEnsemble",
    "LLENet",
    "LowLightSynth",
    "add_sensor_noise",
    "data",
    "enhance",
    "llenet_b",
    "list_pretrained",
    "llenet_s",
    "losses",
    "metrics",
    "synthesize_low_light",
    "wrap",
]

__version__ = "0.1.0"
