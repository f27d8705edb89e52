"""Enhancement quality on photos as cameras deliver them: clean frames darkened with noise and JPEG.

The distinct normal-light frames of SICE ``val`` (31 scenes; several of its
83 pairs share one) are darkened three ways with
`llenhance.evaluation.darkened_pairs` (fixed seed, so every method sees the
same dark images): ``paper`` (Eq. 14, no noise), ``realistic``
(Poisson-Gaussian sensor noise and 8 bits) and ``realistic-jpeg75`` (then
stored as a JPEG of quality 75). Each method's output is scored against the
clean frame (PSNR, SSIM, CIEDE2000; `llenhance.evaluation.evaluate_pairs`).
What the methods do to well-lit frames is in ``quality.md`` (passthrough).

Run:
    python benchmarks/quality_degraded.py [--weights llenet-photo llenet-sice FOLDER ...] [--limit N]

Writes ``benchmarks/results/quality_degraded.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command import command_line  # noqa: E402
from _paths import DATA  # noqa: E402
from _baselines import all_baselines, llenet_methods  # noqa: E402

from llenhance.data import find_images, read_image  # noqa: E402
from llenhance.evaluation import darkened_pairs, evaluate_pairs, markdown_table, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PROTOCOLS = ("paper", "realistic", "realistic-jpeg75")


def distinct_frames(folder: Path) -> list[torch.Tensor]:
    """The images of ``folder`` as float tensors, each distinct content once (in file-name order)."""
    seen: set[str] = set()
    frames = []
    for path in find_images(folder):
        image = read_image(path)
        digest = hashlib.sha256(image.numpy().tobytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            frames.append(image.float() / 255)
    return frames


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=["llenet-photo", "llenet-sice"],
                        help="LLENet weights (names or folders)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N distinct frames")
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    frames = distinct_frames(DATA / "sice" / "val" / "high")[: args.limit]
    methods = dict(all_baselines())
    methods.update(llenet_methods(args.weights))
    rows = []
    for protocol in args.protocols:
        pairs = darkened_pairs(frames, protocol)
        for name, method in methods.items():
            scores = evaluate_pairs(method, pairs, progress=False)
            row = {"protocol": protocol, "method": name, "psnr": scores["psnr"], "ssim": scores["ssim"],
                   "ciede2000": scores["ciede2000"], "grey_shift": scores["grey_shift"]}
            rows.append(row)
            print(row, flush=True)
    command = command_line("quality_degraded.py", argv)
    meta = {"command": command, "frames": len(frames), "protocols": args.protocols}
    sections = []
    for protocol in args.protocols:
        table = markdown_table(
            ["method", "PSNR (dB) ↑", "SSIM ↑", "CIEDE2000 ↓", "grey shift"],
            [(r["method"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['ciede2000']:.2f}",
              f"{r['grey_shift']:+.3f}") for r in rows if r["protocol"] == protocol],
        )
        sections.append(f"**{protocol}**\n\n{table}")
    markdown = (
        "# Enhancement quality on degraded photos\n\n"
        f"`{command}`. The {len(frames)} distinct normal-light frames of SICE `val` darkened with a fixed seed "
        "(`paper`: Eq. 14; `realistic`: plus Poisson-Gaussian sensor noise and 8 bits; `realistic-jpeg75`: then a "
        "JPEG of quality 75), each method's output scored against the clean frame (RGB, [0, 1], per image, "
        "mean over the frames). Grey shift: the output's mean grey level (BT.601 luma) minus the clean "
        "frame's.\n\n" + "\n".join(sections)
    )
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "quality_degraded", {"meta": meta, "rows": rows}, markdown)
    print(markdown)
    return {"meta": meta, "rows": rows}


if __name__ == "__main__":
    main()
