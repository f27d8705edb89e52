"""torch.hub entry points of llenhance.

    import torch
    net = torch.hub.load("llenhance/llenhance", "llenet", weights="llenet-faces")   # from GitHub
    net = torch.hub.load("path/to/llenhance", "llenet", source="local")             # from a checkout

``weights`` is a built-in name (shipped in the repository, no download), a
folder written by ``save_pretrained``, or a Hugging Face Hub repo id.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

dependencies = ["torch", "torchvision", "huggingface_hub", "safetensors", "kornia", "PIL"]

_SRC = Path(__file__).resolve().parent / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))  # the code of this checkout, installed or not


def llenet(weights: str | None = "default", **config: Any):  # noqa: ANN201 (torch.hub shows the docstring)
    """LLENet low-light enhancer, in eval mode.

    Args:
        weights: ``"default"`` (``llenet-photo``, photos), ``"faces"``
            (``llenet-faces``, the face enhancer for FER), another built-in
            name, a ``save_pretrained`` folder or a Hub repo id; ``None``: a
            new, untrained network built from ``config``.
        **config: `LLENet` and `Enhancer` arguments (``width``, ``curve_target``,
            ...), used only with ``weights=None``.
    """
    from llenhance import DEFAULT_FACE_WEIGHTS, DEFAULT_WEIGHTS, Enhancer, llenet_b

    if weights is None:
        return llenet_b(**config).eval()  # llenet_b is LLENet's defaults
    if config:
        raise TypeError(f"llenet() takes LLENet arguments only with weights=None (the weights fix them), "
                        f"got {sorted(config)}")
    name = {"default": DEFAULT_WEIGHTS, "faces": DEFAULT_FACE_WEIGHTS}.get(weights, weights)
    return Enhancer.from_pretrained(name).eval()


def llenet_faces():  # noqa: ANN201
    """The face enhancer ``llenet-faces`` (the default of ``llenhance.wrap``), in eval mode."""
    return llenet("faces")
