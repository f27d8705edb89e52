"""Inference speed on CPU: LLENet sizes vs Zero-DCE and SCI, plus peak memory of 4K tiling.

Images per second at 1 x 600x400 and at 32 x 112x112 (a FER batch), measured
in one run for every model: the median over ``--rounds`` interleaved rounds
of the median of ``--repeats`` timed passes after two warm-ups
(``torch.inference_mode``). Peak resident memory (RSS) of enhancing
one 3840x2160 image with ``llenhance.enhance(..., tile=512)`` is measured in a
fresh subprocess, so that nothing else in this run counts towards it.

Run:
    python benchmarks/speed.py [--threads 2] [--repeats 5]

Writes ``benchmarks/results/speed.json`` and ``speed.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds  # noqa: E402
from baselines import WEIGHTS, load_sci, load_zero_dce  # noqa: E402

from llenhance import LLENet, llenet_b  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# VmHWM (peak resident set) belongs to this process's own address space; unlike
# getrusage's ru_maxrss it does not carry over the parent's peak across fork/exec.
_RSS_SCRIPT = """
import sys, torch
from llenhance import enhance

def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

torch.set_num_threads(int(sys.argv[1]))
image = torch.rand(3, 2160, 3840) * 0.2
before = peak_mib()
out = enhance(image, tile=int(sys.argv[2]))
print(before, peak_mib(), tuple(out.shape))
"""


def _images_per_second(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    return x.shape[0] / median_seconds(model, x, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models: dict[str, torch.nn.Module] = {
        "llenet_s (llenet-sice weights)": LLENet.from_pretrained("llenet-sice"),
        "llenet_b": llenet_b(),
    }
    if (WEIGHTS / "zero-dce" / "Epoch99.pth").is_file():
        models["Zero-DCE"] = load_zero_dce()
    if (WEIGHTS / "sci" / "medium.pt").is_file():
        models["SCI"] = load_sci("medium")
    one, batch = torch.rand(1, 3, 400, 600) * 0.2, torch.rand(32, 3, 112, 112) * 0.2
    # Interleaved rounds, median per model: the first model timed in a process runs
    # slower on this machine, and rounds even that out.
    samples: dict[str, dict[str, list[float]]] = {name: {"one": [], "batch": []} for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            model.eval()
            samples[name]["one"].append(_images_per_second(model, one, args.repeats))
            samples[name]["batch"].append(_images_per_second(model, batch, args.repeats))
    rows = []
    for name, model in models.items():
        row = {
            "model": name,
            "params": sum(p.numel() for p in model.parameters()),
            "images_per_s_600x400": statistics.median(samples[name]["one"]),
            "images_per_s_32x112": statistics.median(samples[name]["batch"]),
        }
        rows.append(row)
        print(row, flush=True)
    done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(args.threads), str(args.tile)],
                          capture_output=True, text=True, check=True)
    before_mib, peak_mib, shape = done.stdout.strip().split(" ", 2)
    rss = {"tile": args.tile, "image": "3840x2160", "rss_after_imports_mib": float(before_mib),
           "peak_rss_mib": float(peak_mib)}
    print(rss)
    meta = {
        "command": (f"python benchmarks/speed.py --threads {args.threads} --repeats {args.repeats} "
                    f"--rounds {args.rounds} --tile {args.tile}"),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps({"meta": meta, "rows": rows, "tiled_4k": rss}, indent=2) + "\n")
    lines = [
        "# Inference speed (CPU)",
        "",
        f"`{meta['command']}` — torch {meta['torch']}, {args.threads} threads, {meta['machine']}; all models in one run.",
        "",
        "| model | params | images/s, 1 x 600x400 | images/s, 32 x 112x112 |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {r['model']} | {r['params']:,} | {r['images_per_s_600x400']:.2f} | {r['images_per_s_32x112']:.1f} |"
              for r in rows]
    lines += ["", f"Peak RSS enhancing one 3840x2160 image with `enhance(image, tile={args.tile})` "
              f"(default weights, fresh process): **{rss['peak_rss_mib']:.0f} MiB** "
              f"({rss['rss_after_imports_mib']:.0f} MiB of it before the call: Python, torch and the image)."]
    (RESULTS / "speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
