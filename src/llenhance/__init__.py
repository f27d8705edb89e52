"""llenhance: low-light enhancement for facial expression recognition (LL-FER).

The public names are imported on first use, so ``import llenhance`` (and the
``llenhance`` command's ``--help``) does not load torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.4.0"

#: public name -> the module that defines it
_EXPORTS = {
    "DEFAULT_FACE_WEIGHTS": "llenhance.pretrained",
    "DEFAULT_WEIGHTS": "llenhance.pretrained",
    "ClassifierPreprocess": "llenhance.classifier",
    "EnhancedClassifier": "llenhance.wrapping",
    "Enhancer": "llenhance.models",
    "FERGuidedTrainer": "llenhance.training",
    "FrozenClassifier": "llenhance.classifier",
    "FrozenEnsemble": "llenhance.classifier",
    "LLENet": "llenhance.models",
    "LowLightSynth": "llenhance.transforms",
    "add_sensor_noise": "llenhance.transforms",
    "enhance": "llenhance.inference",
    "jpeg_round_trip": "llenhance.transforms",
    "llenet_b": "llenhance.models",
    "list_pretrained": "llenhance.pretrained",
    "llenet_s": "llenhance.models",
    "set_value_checks": "llenhance._checks",
    "synthesize_low_light": "llenhance.transforms",
    "value_checks": "llenhance._checks",
    "wrap": "llenhance.wrapping",
}
_SUBMODULES = ("data", "losses", "metrics")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])

if TYPE_CHECKING:
    from llenhance import data, losses, metrics
    from llenhance._checks import set_value_checks, value_checks
    from llenhance.classifier import ClassifierPreprocess, FrozenClassifier, FrozenEnsemble
    from llenhance.inference import enhance
    from llenhance.models import Enhancer, LLENet, llenet_b, llenet_s
    from llenhance.pretrained import DEFAULT_FACE_WEIGHTS, DEFAULT_WEIGHTS, list_pretrained
    from llenhance.training import FERGuidedTrainer
    from llenhance.transforms import LowLightSynth, add_sensor_noise, jpeg_round_trip, synthesize_low_light
    from llenhance.wrapping import EnhancedClassifier, wrap


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"llenhance.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'llenhance' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
