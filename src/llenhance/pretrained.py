"""Built-in weights shipped inside the package, and name resolution for ``from_pretrained``.

``Enhancer.from_pretrained(x)`` accepts, in this order: an existing local
folder (``config.json`` + ``model.safetensors``), the name of a built-in
(see `list_pretrained`; no network), or a Hugging Face Hub repo id
(``owner/name``; downloaded and cached by ``huggingface_hub``, which honours
``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and a ``revision``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_FACE_WEIGHTS", "DEFAULT_WEIGHTS", "builtin_path", "list_pretrained"]

_ROOT = Path(__file__).resolve().parent / "weights"
#: The built-in weights ``enhance`` and ``wrap`` use when no model is given.
DEFAULT_WEIGHTS = "llenet-photo"
#: The built-in weights ``wrap`` puts in front of a FER classifier when no enhancer is given.
DEFAULT_FACE_WEIGHTS = "llenet-faces"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def list_pretrained() -> dict[str, dict[str, Any]]:
    """The built-in weights: name -> summary (model, data, metrics, licence).

    Examples:
        >>> "llenet-sice" in list_pretrained()
        True
    """
    out = {}
    for folder in sorted(p for p in _ROOT.iterdir() if (p / "model.safetensors").is_file()):
        summary_file = folder / "summary.json"
        out[folder.name] = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    return out


def builtin_path(name: str) -> Path | None:
    """Folder of the built-in weights ``name``, or ``None`` if there is none."""
    folder = _ROOT / name
    return folder if (folder / "model.safetensors").is_file() else None


def looks_like_repo_id(name: str) -> bool:
    """``owner/name`` with Hub-legal characters (and not an absolute or ./ path)."""
    return bool(_REPO_ID.match(name))
