"""Training: the FER-guided trainer (reconstruction-only without a classifier)."""

from __future__ import annotations

from llenhance.training.trainer import FERGuidedTrainer

__all__ = ["FERGuidedTrainer"]
