"""Datasets: paired low/normal-light folders, synthetic pairs, FER datasets."""

from __future__ import annotations

from llenhance.data._io import IMAGE_EXTENSIONS, ImageReadError, find_images, read_image, to_float
from llenhance.data.fer import FER2013_CLASSES, FERPLUS_CLASSES, RAFDB_CLASSES, RAFDB, FERFolder, FERPlus
from llenhance.data.paired import PAIR_INPUTS, PairedImageFolder
from llenhance.data.synthetic import SyntheticLowLight

__all__ = [
    "FER2013_CLASSES",
    "FERPLUS_CLASSES",
    "IMAGE_EXTENSIONS",
    "PAIR_INPUTS",
    "RAFDB",
    "RAFDB_CLASSES",
    "FERFolder",
    "FERPlus",
    "ImageReadError",
    "PairedImageFolder",
    "SyntheticLowLight",
    "find_images",
    "read_image",
    "to_float",
]
