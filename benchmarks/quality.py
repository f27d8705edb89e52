"""Enhancement quality: PSNR/SSIM on SICE val pairs, NIQE on DICM, for LLENet weights and baselines.

PSNR and SSIM are computed per image (RGB, [0, 1], full 512x512 images; SSIM
with an 11x11 Gaussian window, sigma 1.5, interior pixels) and averaged over
the 83 pairs of ``../shared/data/sice/val``. NIQE (lower is better) is the
mean over the 64 images of ``../shared/data/dicm``, on the luma channel as in
the authors' MATLAB code. Every method sees the same images.

Run:
    python benchmarks/quality.py [--weights llenet-sice ...] [--niqe-limit N]

Writes ``benchmarks/results/quality.json`` and ``quality.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import all_baselines  # noqa: E402

from llenhance import LLENet, enhance  # noqa: E402
from llenhance.data import PairedImageFolder, find_images, read_image  # noqa: E402
from llenhance.metrics import niqe, psnr, ssim  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def _evaluate(method: Callable[[torch.Tensor], torch.Tensor], pairs: PairedImageFolder, dicm: list[Path],
              name: str) -> dict[str, float]:
    p_sum = s_sum = n_sum = 0.0
    with torch.inference_mode():
        for i in tqdm(range(len(pairs)), desc=f"{name}: sice/val", leave=False):
            low, high = pairs[i]
            out = method(low[None]).clamp(0, 1)
            p_sum += psnr(out, high[None]).item()
            s_sum += ssim(out, high[None]).item()
        for path in tqdm(dicm, desc=f"{name}: dicm", leave=False):
            image = read_image(path).float()[None] / 255
            n_sum += niqe(method(image).clamp(0, 1))
    return {"psnr": p_sum / len(pairs), "ssim": s_sum / len(pairs), "niqe": n_sum / len(dicm) if dicm else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=["llenet-sice"], help="LLENet weights (names or folders)")
    parser.add_argument("--niqe-limit", type=int, default=None, help="use only the first N DICM images")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = PairedImageFolder(DATA / "sice" / "val")
    dicm = find_images(DATA / "dicm")[: args.niqe_limit]

    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = dict(all_baselines())
    for weights in args.weights:
        model = LLENet.from_pretrained(weights).eval()
        methods[f"LLENet ({Path(weights).name})"] = lambda x, m=model: enhance(x, m)
    rows = []
    for name, method in methods.items():
        row = {"method": name, **_evaluate(method, pairs, dicm, name)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    command = "python benchmarks/quality.py " + " ".join(sys.argv[1:])
    meta = {"command": command.strip(), "sice_val_pairs": len(pairs), "dicm_images": len(dicm)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Enhancement quality",
        "",
        f"`{meta['command']}`. PSNR / SSIM: mean over the {len(pairs)} pairs of SICE `val` (real low/normal "
        f"exposures; RGB, [0, 1], per image). NIQE: mean over {len(dicm)} DICM images (no reference; lower is better).",
        "",
        "| method | PSNR (dB) ↑ | SSIM ↑ | NIQE ↓ |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['niqe']:.3f} |" for r in rows]
    (RESULTS / "quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
