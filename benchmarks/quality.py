"""Enhancement quality: PSNR/SSIM/CIEDE2000 on SICE val pairs, NIQE on DICM, for LLENet weights and baselines.

PSNR, SSIM and CIEDE2000 are computed per image (RGB, [0, 1], full 512x512
images; SSIM with an 11x11 Gaussian window, sigma 1.5, interior pixels;
CIEDE2000 in CIE Lab, D65) and averaged over the 83 pairs of
``sice/val``. NIQE (lower is better) is the mean over the 64 images of
``dicm``, on the luma channel as in the authors' MATLAB code. Every method
sees the same images. A plug-in also sees well-lit photos: the
*passthrough* columns give PSNR and CIEDE2000 of each method run on the
normal-light frames of ``sice/val`` against themselves (an identity scores
infinite PSNR and 0). All through `llenhance.evaluation`.

Run:
    python benchmarks/quality.py [--weights llenet-sice ...] [--niqe-limit N] [--ungated]

Writes ``benchmarks/results/quality.json`` and ``quality.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command import command_line  # noqa: E402
from _paths import DATA  # noqa: E402
from _baselines import all_baselines, llenet_methods  # noqa: E402

from llenhance.data import PairedImageFolder, find_images, read_image  # noqa: E402
from llenhance.evaluation import evaluate_niqe, evaluate_pairs, markdown_table, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=["llenet-photo", "llenet-sice"],
                        help="LLENet weights (names or folders)")
    parser.add_argument("--niqe-limit", type=int, default=None, help="use only the first N DICM images")
    parser.add_argument("--pairs-limit", type=int, default=None, help="use only the first N sice/val pairs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--reuse", type=Path, default=None, metavar="JSON",
                        help="take the rows of the baselines from this earlier quality.json (same data and limits) "
                             "instead of computing them again; the table names the command that made them")
    parser.add_argument("--ungated", action="store_true",
                        help="also score each exposure-gated model without its gate (a row of its own)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pairs_all = PairedImageFolder(DATA / "sice" / "val")
    pairs = [pairs_all[i] for i in range(min(len(pairs_all), args.pairs_limit or len(pairs_all)))]
    well_lit = [(high, high) for _, high in pairs]
    dicm = [read_image(p).float() / 255 for p in find_images(DATA / "dicm")[: args.niqe_limit]]

    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = dict(all_baselines())
    reused: dict[str, dict] = {}
    if args.reuse is not None:
        earlier = json.loads(args.reuse.read_text())
        counts = {"sice_val_pairs": len(pairs), "dicm_images": len(dicm)}
        if any(earlier["meta"].get(k) != v for k, v in counts.items()):
            parser.error(f"`--reuse` {args.reuse} was made on other data ({earlier['meta']}), expected {counts}")
        reused = {r["method"]: r for r in earlier["rows"] if r["method"] in methods}
    methods.update(llenet_methods(args.weights, ungated=args.ungated))
    rows = []
    for name, method in methods.items():
        if name in reused:
            rows.append(reused[name])
            continue
        paired = evaluate_pairs(method, pairs)
        passthrough = evaluate_pairs(method, well_lit)
        row = {"method": name, "psnr": paired["psnr"], "ssim": paired["ssim"], "ciede2000": paired["ciede2000"],
               "niqe": evaluate_niqe(method, dicm)["niqe"] if dicm else float("nan"),
               "passthrough_psnr": passthrough["psnr"], "passthrough_ciede2000": passthrough["ciede2000"],
               "passthrough_grey_shift": passthrough["grey_shift"]}
        rows.append(row)
        print(row, flush=True)

    command = command_line("quality.py", argv)
    meta = {"command": command, "sice_val_pairs": len(pairs), "dicm_images": len(dicm)}
    note = ""
    if reused:
        # rows reused from rows that were reused name the command that computed them
        source = earlier["meta"].get("reused", {}).get("command", earlier["meta"]["command"])
        meta["reused"] = {"rows": sorted(reused), "command": source}
        note = f" The rows of {', '.join(sorted(reused))} are those of `{source}` (same data; `--reuse`)."
    table = markdown_table(
        ["method", "PSNR (dB) ↑", "SSIM ↑", "CIEDE2000 ↓", "NIQE ↓", "passthrough PSNR (dB) ↑",
         "passthrough CIEDE2000 ↓", "passthrough grey shift"],
        [(r["method"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['ciede2000']:.2f}", f"{r['niqe']:.3f}",
          f"{r['passthrough_psnr']:.2f}", f"{r['passthrough_ciede2000']:.2f}", f"{r['passthrough_grey_shift']:+.3f}")
         for r in rows],
    )
    markdown = (
        "# Enhancement quality\n\n"
        f"`{command}`. PSNR / SSIM / CIEDE2000: mean over the {len(pairs)} pairs of SICE `val` (real low/normal "
        f"exposures; RGB, [0, 1], per image). NIQE: mean over {len(dicm)} DICM images (no reference; lower is "
        "better). Passthrough: the method run on the *normal-light* frames of SICE `val`, scored against "
        "themselves (what a plug-in does to well-lit photos; identical images score 100 dB, the cap of `psnr`); "
        "grey shift: the mean grey level (BT.601 luma, [0, 1]) of the output minus the input's." + note
        + "\n\n" + table
    )
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "quality", {"meta": meta, "rows": rows}, markdown)
    print(markdown)
    return {"meta": meta, "rows": rows}


if __name__ == "__main__":
    main()
