"""Colour constants shared across the package."""

#: ITU-R BT.601 luma weights (R, G, B), as PIL's "L" mode.
LUMA = (0.299, 0.587, 0.114)
