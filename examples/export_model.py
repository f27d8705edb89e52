"""Export the built-in enhancer to ONNX (dynamic size) and run it with onnxruntime.

Run (needs ``pip install 'llenhance[export]'``):
    python examples/export_model.py [--output llenet.onnx]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from llenhance import Enhancer
from llenhance.export import export_onnx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, default=Path("llenet.onnx"))
    args = parser.parse_args()
    import onnxruntime

    model = Enhancer.from_pretrained("llenet-sice")
    export_onnx(model, args.output)
    session = onnxruntime.InferenceSession(str(args.output))
    image = torch.rand(1, 3, 171, 253) * 0.2
    out = session.run(None, {"image": image.numpy()})[0]
    with torch.no_grad():
        ref = model.eval()(image).numpy()
    print(f"wrote {args.output}; max |onnx - torch| = {np.abs(out - ref).max():.2e} at {out.shape}")



if __name__ == "__main__":
    main()
