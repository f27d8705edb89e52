"""Shared timing helper of the benchmark scripts."""

from __future__ import annotations

import statistics
import time

import torch


def median_seconds(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median wall time of ``model(x)`` over ``repeats`` runs after two warm-ups, in inference mode."""
    times = []
    with torch.inference_mode():
        model(x)
        model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)
