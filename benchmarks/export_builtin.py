"""Copy trained enhancer weights into the package as a built-in.

Run:
    python benchmarks/export_builtin.py RUN_DIR NAME --command "TRAINING COMMAND"

RUN_DIR is a trained enhancer's folder (``config.json``, ``model.safetensors``,
``training.json``, as ``llenhance train`` and the experiment scripts write
them); the weights are stored in ``src/llenhance/weights/NAME`` with
``summary.json``: the training record plus ``command``, the training command
followed by this export, so that ``list_pretrained()`` says how to remake
them. The model card (``README.md``) is written by hand beside them and kept.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from _command import tilde
from llenhance import LLENet

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "llenhance" / "weights"


def main(argv: list[str] | None = None, weights: Path = PACKAGE_WEIGHTS) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the trained enhancer's folder")
    parser.add_argument("name", help="name of the built-in (a folder under src/llenhance/weights)")
    parser.add_argument("--command", required=True, help="the command that trained RUN (recorded in summary.json)")
    args = parser.parse_args(argv)
    record_file = args.run / "training.json"
    if not record_file.is_file():
        parser.error(f"`run` expected a trained enhancer's folder with training.json, got {args.run}")
    model = LLENet.from_pretrained(args.run)
    target = weights / args.name
    target.mkdir(parents=True, exist_ok=True)
    card = target / "README.md"
    kept = card.read_text() if card.is_file() else None
    model.save_pretrained(target)
    if kept is not None:  # save_pretrained writes a generic card; keep ours
        card.write_text(kept)
    export = f"python benchmarks/export_builtin.py {shlex.quote(str(args.run))} {args.name}"
    training = {k: v for k, v in json.loads(record_file.read_text()).items() if k != "command"}
    record = {"command": tilde(f"{args.command} && {export}"), **training}
    (target / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {target}")
    return target


if __name__ == "__main__":
    main()
