"""llenhance: low-light enhancement for facial expression recognition (LL-FER)."""

from __future__ import annotations

from llenhance import losses
from llenhance.models import LLENet, llenet_b, llenet_s
from llenhance.transforms import LowLightSynth, add_sensor_noise, synthesize_low_light

__all__ = [
    "LLENet",
    "LowLightSynth",
    "add_sensor_noise",
    "llenet_b",
    "llenet_s",
    "losses",
    "synthesize_low_light",
]

__version__ = "0.1.0"
