"""Inference speed: LLENet sizes vs Zero-DCE, SCI and the ResNet-18 they sit in front of; peak memory of 4K tiling.

Images per second at 1 x 600x400 and at ``--batch`` x 112x112 (a FER batch), measured
in one run for every model: the median over ``--rounds`` interleaved rounds
of the median of ``--repeats`` timed passes after two warm-ups
(``torch.inference_mode``). Peak resident memory (RSS) of enhancing
one 3840x2160 image with ``llenhance.enhance(..., tile=512)`` is measured in a
fresh subprocess on the CPU, so that nothing else in this run counts towards it.
A torchvision ResNet-18 (7 classes) is timed on the same batch: the FER
classifier an enhancer sits in front of, so the table says what the
enhancer adds to it. ``--device cuda`` times on a GPU (``--half``: bfloat16,
channels-last), where each timed pass waits for the device. ``--compile MODE`` also times
every model through ``torch.compile(model, mode=MODE, fullgraph=True)``, in the same rounds as the
eager model (compilation happens in the warm-ups; on CUDA, ``reduce-overhead`` replays each fixed
batch shape as a CUDA graph).

Run:
    python benchmarks/speed.py [--device cpu|cuda|auto] [--half] [--compile MODE] [--threads 2] [--repeats 5] [--batch 32]

Writes ``benchmarks/results/speed[_cuda][_half][_compile-MODE].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import device_from_arg, median_seconds  # noqa: E402
from _baselines import WEIGHTS, load_sci, load_zero_dce  # noqa: E402

import torchvision  # noqa: E402

from llenhance import Enhancer, llenet_b  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402

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


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def _images_per_second(model: torch.nn.Module, x: torch.Tensor, repeats: int, warmups: int) -> float:
    return x.shape[0] / median_seconds(model, x, repeats, warmups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (CUDA when present)")
    parser.add_argument("--half", action="store_true", help="bfloat16 weights and inputs, channels-last (CUDA)")
    parser.add_argument("--batch", type=int, default=32, help="faces of 112x112 per batch")
    parser.add_argument("--compile", choices=COMPILE_MODES, default=None,
                        help="torch.compile every model with this mode (fullgraph)")
    parser.add_argument("--models", nargs="+", default=None, metavar="PART",
                        help="time only the models whose names contain one of these (the ResNet-18 always)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    device = device_from_arg(parser, args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models: dict[str, torch.nn.Module] = {
        # the default photo weights: llenet-sice's network plus the curve, exposure input, output exposure
        # and gate (the dark inputs below get all of the change, so the network always runs)
        "llenet_s + curve, exposure in/out, gate (llenet-photo weights)": Enhancer.from_pretrained("llenet-photo"),
        "llenet_s (llenet-sice weights)": Enhancer.from_pretrained("llenet-sice"),
        "llenet_s, full resolution + curve (llenet-faces weights)": Enhancer.from_pretrained("llenet-faces"),
        "llenet_b": llenet_b(),
    }
    if (WEIGHTS / "zero-dce" / "Epoch99.pth").is_file():
        models["Zero-DCE"] = load_zero_dce()
    if (WEIGHTS / "sci" / "medium.pt").is_file():
        models["SCI"] = load_sci("medium")
    if args.models:
        models = {name: m for name, m in models.items() if any(part in name for part in args.models)}
    models["ResNet-18 (FER classifier, reference)"] = torchvision.models.resnet18(num_classes=7)
    dtype = torch.bfloat16 if args.half else torch.float32
    fmt = torch.channels_last if args.half else torch.contiguous_format
    variants = ["eager", "compiled"] if args.compile else ["eager"]
    runners: dict[str, dict[str, torch.nn.Module]] = {}
    for name, model in models.items():
        model.to(device, dtype, memory_format=fmt).eval()
        runners[name] = {"eager": model}
        if args.compile:
            runners[name]["compiled"] = torch.compile(model, mode=args.compile, fullgraph=True)
    one = (torch.rand(1, 3, 400, 600) * 0.2).to(device, dtype, memory_format=fmt)
    batch = (torch.rand(args.batch, 3, 112, 112) * 0.2).to(device, dtype, memory_format=fmt)
    # Interleaved rounds, median per model: the first model timed in a process runs
    # slower on this machine, and rounds even that out. Compiled: the first calls of each
    # input shape compile (and, with CUDA graphs, record), so one more warm-up.
    samples = {name: {v: {"one": [], "batch": []} for v in variants} for name in models}
    for _ in range(args.rounds):
        for name in models:
            for variant, runner in runners[name].items():
                warmups = 3 if variant == "compiled" else 2
                samples[name][variant]["one"].append(_images_per_second(runner, one, args.repeats, warmups))
                samples[name][variant]["batch"].append(_images_per_second(runner, batch, args.repeats, warmups))
    rows = []
    for name, model in models.items():
        row = {"model": name, "params": sum(p.numel() for p in model.parameters())}
        for variant in variants:
            prefix = "" if variant == "eager" else "compiled_"
            row[f"{prefix}images_per_s_600x400"] = statistics.median(samples[name][variant]["one"])
            row[f"{prefix}images_per_s_batch_112"] = statistics.median(samples[name][variant]["batch"])
        rows.append(row)
        print(row, flush=True)
    for prefix in ("", "compiled_") if args.compile else ("",):
        reference = rows[-1][f"{prefix}images_per_s_batch_112"]
        for row in rows:
            row[f"{prefix}cost_vs_resnet18"] = reference / row[f"{prefix}images_per_s_batch_112"]
    for row in rows if args.compile else []:
        row["compile_speedup_batch_112"] = row["compiled_images_per_s_batch_112"] / row["images_per_s_batch_112"]
    done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(args.threads), str(args.tile)],
                          capture_output=True, text=True, check=True)
    before_mib, peak_mib, shape = done.stdout.strip().split(" ", 2)
    rss = {"tile": args.tile, "image": "3840x2160", "rss_after_imports_mib": float(before_mib),
           "peak_rss_mib": float(peak_mib)}
    print(rss)
    meta = {
        "command": (f"python benchmarks/speed.py --device {args.device} --threads {args.threads} "
                    f"--repeats {args.repeats} --rounds {args.rounds} --tile {args.tile} --batch {args.batch}"
                    + (" --half" if args.half else "") + (f" --compile {args.compile}" if args.compile else "")
                    + (f" --models {' '.join(repr(m) for m in args.models)}" if args.models else "")),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU",
        "dtype": str(dtype),
        "compile": args.compile,
    }
    stem = "speed" + ("" if device.type == "cpu" else f"_{device.type}") + ("_half" if args.half else "")
    stem += f"_compile-{args.compile}" if args.compile else ""
    args.results.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Inference speed ({meta['device']})",
        "",
        f"`{meta['command']}` — torch {meta['torch']}, {args.threads} CPU threads, {dtype}"
        + (f", torch.compile mode {args.compile!r}" if args.compile else "") + "; all models in one run. "
        "*vs ResNet-18*: time per face batch relative to the ResNet-18 the enhancer sits in front of.",
        "",
        f"| model | params | images/s, 1 x 600x400 | images/s, {args.batch} x 112x112 | vs ResNet-18 |"
        + (f" compiled images/s, 1 x 600x400 | compiled images/s, {args.batch} x 112x112 | compiled vs ResNet-18 "
           "(compiled) | compiled / eager |" if args.compile else ""),
        "| --- | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: | ---: |" if args.compile else ""),
    ]
    for r in rows:
        line = (f"| {r['model']} | {r['params']:,} | {r['images_per_s_600x400']:.2f} | "
                f"{r['images_per_s_batch_112']:.1f} | {r['cost_vs_resnet18']:.2f}x |")
        if args.compile:
            line += (f" {r['compiled_images_per_s_600x400']:.2f} | {r['compiled_images_per_s_batch_112']:.1f} | "
                     f"{r['compiled_cost_vs_resnet18']:.2f}x | {r['compile_speedup_batch_112']:.2f}x |")
        lines.append(line)
    lines += ["", f"Peak RSS enhancing one 3840x2160 image with `enhance(image, tile={args.tile})` "
              f"(default weights, fresh process): **{rss['peak_rss_mib']:.0f} MiB** "
              f"({rss['rss_after_imports_mib']:.0f} MiB of it before the call: Python, torch and the image)."]
    write_results(args.results / stem, {"meta": meta, "rows": rows, "tiled_4k": rss}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
