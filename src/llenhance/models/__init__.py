"""Enhancement networks: `LLENet` (the network) and `Enhancer` (the network with its exposure handling)."""

from __future__ import annotations

from llenhance.models.blocks import CRBlock, FEBlock
from llenhance.models.enhancer import Enhancer
from llenhance.models.exposure import exposure_curve, match_exposure
from llenhance.models.llenet import LLENet, llenet_b, llenet_s

__all__ = ["CRBlock", "Enhancer", "FEBlock", "LLENet", "exposure_curve", "llenet_b", "llenet_s", "match_exposure"]
