"""Export an enhancer to ONNX (dynamic batch, height and width) or TorchScript."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from llenhance._atomic import atomic_path

__all__ = ["ONNX_OPSETS", "export_onnx", "export_torchscript"]

#: Opsets the graph exports to: 11 is the first with the padding it needs (reflect, sizes known at run
#: time), 20 the last that torch's TorchScript-based exporter writes.
ONNX_OPSETS = (11, 20)


def _example(size: tuple[int, int]) -> torch.Tensor:
    return torch.rand(1, 3, *size) * 0.2


def export_onnx(model: nn.Module, path: str | Path, *, opset: int = 17, example_size: tuple[int, int] = (64, 96)) -> Path:
    """Write ``model`` (in eval mode, output clamped) as ONNX with dynamic batch, height, width.

    The graph has one input ``image`` (B, 3, H, W) float32 in [0, 1] and one
    output ``enhanced`` of the same shape. Input checks are not part of the
    graph; validate inputs before running it.
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or not ONNX_OPSETS[0] <= opset <= ONNX_OPSETS[1]:
        raise ValueError(f"`opset` (--opset) expected an int in [{ONNX_OPSETS[0]}, {ONNX_OPSETS[1]}], got {opset!r}")
    path = Path(path)
    training = model.training
    axes = {0: "batch", 2: "height", 3: "width"}
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python-side shape logic
            torch.onnx.export(
                model.eval(), (_example(example_size),), str(tmp), dynamo=False, opset_version=opset,
                input_names=["image"], output_names=["enhanced"],
                dynamic_axes={"image": axes, "enhanced": axes},
            )
    finally:
        model.train(training)  # the caller's module comes back as it was
    return path


def export_torchscript(model: nn.Module, path: str | Path, *, example_size: tuple[int, int] = (64, 96)) -> Path:
    """Write ``model`` (eval mode) as a traced TorchScript module; any H, W at run time."""
    path = Path(path)
    training = model.training
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model.eval(), _example(example_size))
    finally:
        model.train(training)
    with atomic_path(path) as tmp:
        traced.save(str(tmp))
    return path
