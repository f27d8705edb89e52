"""Enhancement networks."""

from __future__ import annotations

from llenhance.models.llenet import CRBlock, FEBlock, LLENet, llenet_b, llenet_s

__all__ = ["CRBlock", "FEBlock", "LLENet", "llenet_b", "llenet_s"]
