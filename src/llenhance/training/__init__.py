"""Training: the FER-guided trainer (reconstruction-only without a classifier), the face enhancer's recipe,
and the fine-tuning of a classifier on darkened faces."""

from __future__ import annotations

from llenhance.training.classifier import ClassifierRecipe, finetune_classifier
from llenhance.training.faces import FaceRecipe, FaceStage, train_faces
from llenhance.training.objective import JointObjective
from llenhance.training.settings import TrainerSettings
from llenhance.training.trainer import FERGuidedTrainer

__all__ = ["ClassifierRecipe", "FERGuidedTrainer", "FaceRecipe", "FaceStage", "JointObjective", "TrainerSettings",
           "finetune_classifier", "train_faces"]
