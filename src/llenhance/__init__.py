"""llenhance: low-light enhancement for facial expression recognition (LL-FER)."""

from __future__ import annotations

from llenhance.models import LLENet, llenet_b, llenet_s

__all__ = ["LLENet", "llenet_b", "llenet_s"]

__version__ = "0.1.0"
