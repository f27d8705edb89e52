"""Training: the FER-guided trainer (reconstruction-only without a classifier) and the face enhancer's recipe."""

from __future__ import annotations

from llenhance.training.faces import FaceRecipe, FaceStage, train_faces
from llenhance.training.trainer import FERGuidedTrainer

__all__ = ["FERGuidedTrainer", "FaceRecipe", "FaceStage", "train_faces"]
