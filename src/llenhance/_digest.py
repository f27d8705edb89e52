"""Digests of a module's weights: whether two modules (or one, before and after) hold the same values."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["state_digest"]


def state_digest(module: nn.Module) -> str:
    """SHA-256 (hex) of the state dict's names and values (as float32): equal for equal weights."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()
