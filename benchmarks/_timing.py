"""Shared timing helper of the benchmark scripts."""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def device_from_arg(parser: argparse.ArgumentParser, spec: str) -> torch.device:
    """``--device``: auto (CUDA when present), cpu, cuda or cuda:N; a parser error when CUDA is absent."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {spec}: CUDA is not available here")
    return device


def _sync(x: torch.Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


def median_seconds(model: torch.nn.Module, x: torch.Tensor, repeats: int, warmups: int = 2) -> float:
    """Median wall time of ``model(x)`` over ``repeats`` runs after ``warmups`` untimed runs, in inference
    mode (on CUDA, each timed run waits for the device to finish)."""
    times = []
    with torch.inference_mode():
        for _ in range(warmups):
            model(x)
        _sync(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            _sync(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)
