"""Enhancement networks."""

from __future__ import annotations

from llenhance.models.llenet import (
    CRBlock,
    FEBlock,
    LLENet,
    exposure_curve,
    llenet_b,
    llenet_s,
    match_exposure,
)

__all__ = ["CRBlock", "FEBlock", "LLENet", "exposure_curve", "llenet_b", "llenet_s", "match_exposure"]
