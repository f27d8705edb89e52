"""Compare the sharpness of the FER train and val faces, and find the blur that matches them.

The copy of FER2013 in ``../shared/data/fer2013`` has heavily blurred training
faces and sharp val faces. A classifier trained on one and tested on the
other measures that domain gap, not low light; the experiments therefore blur
the val faces to the training faces' sharpness (``--val-blur``). This script
measures the gap on random samples of both splits (fixed seed): the median
over faces of the mean absolute horizontal difference of neighbouring pixels
(sharpness) and of the pixel standard deviation (contrast), for the train
faces, the val faces, and the val faces blurred with each candidate sigma
(the same ``fer_split(..., blur=sigma)`` the experiments use). It reports the
sigma whose sharpness is closest to the training faces'.

Run:
    python benchmarks/fer_data_check.py [--data ../shared/data/fer2013]

Writes ``benchmarks/results/fer_data_check.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fer_data import add_data_arguments, fer_split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIGMAS = (1.0, 2.0, 2.5, 3.0, 3.5, 4.0)


def measure(data, indices: list[int]) -> dict[str, float]:
    sharp, contrast = [], []
    for i in indices:
        gray = data[i][0].mean(0)
        sharp.append(float((gray[:, 1:] - gray[:, :-1]).abs().mean()))
        contrast.append(float(gray.std()))
    return {"sharpness": float(torch.tensor(sharp).median()), "contrast": float(torch.tensor(contrast).median())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--samples", type=int, default=1000, help="faces sampled per split")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    generator = torch.Generator().manual_seed(0)

    def sample(data) -> list[int]:
        return torch.randperm(len(data), generator=generator)[: args.samples].tolist()

    train = fer_split(args.dataset, args.data, "train", size=args.size)
    val = fer_split(args.dataset, args.data, "val", size=args.size)
    train_idx, val_idx = sample(train), sample(val)
    rows = {"train": measure(train, train_idx), "val": measure(val, val_idx)}
    for sigma in SIGMAS:
        rows[f"val, blur sigma {sigma}"] = measure(fer_split(args.dataset, args.data, "val", size=args.size,
                                                             blur=sigma), val_idx)
    target = rows["train"]["sharpness"]
    best = min(SIGMAS, key=lambda s: abs(rows[f"val, blur sigma {s}"]["sharpness"] - target))
    results = {
        "command": ("python benchmarks/fer_data_check.py " + " ".join(sys.argv[1:] if argv is None else argv)).rstrip(),
        "samples_per_split": args.samples,
        "rows": rows,
        "matching_sigma": best,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "fer_data_check.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Sharpness of the FER train and val faces",
        "",
        f"Command: `{results['command']}`. Medians over {args.samples} random faces per split (seed 0): "
        "sharpness = mean absolute difference of horizontally neighbouring pixels, contrast = pixel standard "
        "deviation (grey levels in [0, 1]).",
        "",
        "| faces | sharpness | contrast |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {r['sharpness']:.4f} | {r['contrast']:.4f} |" for name, r in rows.items()]
    lines += ["", f"The val faces blurred with sigma {best} px come closest to the training faces' sharpness."]
    (args.results / "fer_data_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
