"""Parameters, FLOPs and CPU latency of the LLENet sizes and ablations.

Measured in one run beside a torchvision ResNet-18 at 112x112 (the kind of
classifier LLENet runs in front of). FLOPs come from
``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts as 2).
Latency is the median of ``--repeats`` timed forward passes after two warm-ups,
in eval mode under ``torch.inference_mode``.

Run:
    python benchmarks/model_cost.py [--threads 2] [--repeats 5]

Writes ``benchmarks/results/model_cost.json`` and ``model_cost.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds  # noqa: E402

from llenhance import llenet_b, llenet_s  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _flops(model: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (median)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    models: dict[str, Callable[[], nn.Module]] = {
        "resnet18 (reference)": lambda: torchvision.models.resnet18(num_classes=7),
        "llenet_s": llenet_s,
        "llenet_s no FE": lambda: llenet_s(use_fe=False),
        "llenet_s no skip": lambda: llenet_s(use_skip=False),
        "llenet_s no FE, no skip": lambda: llenet_s(use_fe=False, use_skip=False),
        "llenet_b": llenet_b,
        "llenet_b no FE": lambda: llenet_b(use_fe=False),
        "llenet_b no skip": lambda: llenet_b(use_skip=False),
        "llenet_b no FE, no skip": lambda: llenet_b(use_fe=False, use_skip=False),
    }
    small, batch, large = torch.rand(1, 3, 112, 112), torch.rand(32, 3, 112, 112), torch.rand(1, 3, 400, 600)
    # The first model timed in a process runs slower on this machine; warm the
    # process up on the reference first so that it is not penalised.
    median_seconds(models["resnet18 (reference)"]().eval(), batch, 3)
    rows = []
    for name, factory in models.items():
        model = factory().eval()
        is_reference = name.startswith("resnet18")
        row = {
            "model": name,
            "params": sum(p.numel() for p in model.parameters()),
            "gflops_112": _flops(model, small) / 1e9,
            "gflops_600x400": None if is_reference else _flops(model, large) / 1e9,
            "latency_s_32x112": median_seconds(model, batch, args.repeats),
            "latency_s_1x600x400": None if is_reference else median_seconds(model, large, args.repeats),
        }
        rows.append(row)
        print(row, flush=True)

    reference = rows[0]
    for row in rows:
        row["flops_vs_resnet18"] = row["gflops_112"] / reference["gflops_112"]
        row["latency_vs_resnet18"] = row["latency_s_32x112"] / reference["latency_s_32x112"]

    meta = {
        "command": f"python benchmarks/model_cost.py --threads {args.threads} --repeats {args.repeats}",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": torch.get_num_threads(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)

    def fmt(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    lines = [
        "# Model cost (CPU)",
        "",
        f"`{meta['command']}` — torch {meta['torch']}, {args.threads} threads, {meta['machine']}.",
        "ResNet-18 (7 classes) at 112x112 is the reference; ratios are to it, measured in the same run.",
        "",
        "| model | params | GFLOPs 112x112 | FLOPs vs R18 | GFLOPs 600x400 | latency 32x112x112 (s) | latency vs R18 | latency 1x600x400 (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['gflops_112']:.3f} | {r['flops_vs_resnet18']:.2f} | "
            f"{fmt(r['gflops_600x400'], '.2f')} | {r['latency_s_32x112']:.3f} | {r['latency_vs_resnet18']:.2f} | "
            f"{fmt(r['latency_s_1x600x400'], '.3f')} |"
        )
    write_results(RESULTS / "model_cost", {"meta": meta, "rows": rows}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
