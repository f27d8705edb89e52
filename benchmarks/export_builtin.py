"""Copy trained enhancer weights into the package as a built-in.

Run:
    python benchmarks/export_builtin.py RUN_DIR NAME --command "TRAINING COMMAND"

RUN_DIR is a trained enhancer's folder (``config.json``, ``model.safetensors``,
``training.json``, as ``llenhance train`` and the experiment scripts write
them); the weights are stored in ``src/llenhance/weights/NAME`` with
``summary.json``: the training record plus ``command``, the training command
followed by this export, so that ``list_pretrained()`` says how to remake
them. The model card (``README.md``) is written by hand beside them and kept.

RUN_DIR may also be a built-in (its name or folder): its ``summary.json`` is
the record and its command the training command (``--command`` then is
optional). ``--exposure-gate LOW HIGH`` stores the weights with that
`LLENet` exposure gate (well-lit images pass unchanged), ``--output-target T``
with that output exposure (see ``benchmarks/output_target.py``), e.g.::

    python benchmarks/export_builtin.py llenet-sice llenet-photo --exposure-gate 0.2 0.35
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from _command import tilde
from llenhance import Enhancer
from llenhance.pretrained import builtin_path

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "llenhance" / "weights"


def main(argv: list[str] | None = None, weights: Path = PACKAGE_WEIGHTS) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the trained enhancer's folder")
    parser.add_argument("name", help="name of the built-in (a folder under src/llenhance/weights)")
    parser.add_argument("--command", help="the command that trained RUN (recorded in summary.json); "
                                          "required unless RUN is a built-in")
    parser.add_argument("--exposure-gate", nargs=2, type=float, metavar=("LOW", "HIGH"), default=None,
                        help="store the weights with this exposure gate (mean grey levels)")
    parser.add_argument("--output-target", type=float, default=None,
                        help="store the weights with this output_target (a mean grey level)")
    args = parser.parse_args(argv)
    run = args.run if args.run.is_dir() else builtin_path(str(args.run))
    if run is None:
        parser.error(f"`run` expected a trained enhancer's folder or a built-in name, got {args.run}")
    training_file, summary_file = run / "training.json", run / "summary.json"
    if training_file.is_file():
        training = json.loads(training_file.read_text())
    elif summary_file.is_file():
        training = json.loads(summary_file.read_text())
        args.command = args.command or training.get("command")
    else:
        parser.error(f"`run` expected a trained enhancer's folder with training.json, got {args.run}")
    if not args.command:
        parser.error("`--command` expected the command that trained RUN")
    # the same weights, these settings in place of the stored ones
    override: dict = {}
    if args.exposure_gate is not None:
        override["exposure_gate"] = tuple(args.exposure_gate)
    if args.output_target is not None:
        override["output_target"] = args.output_target
    try:
        model = Enhancer.from_pretrained(run, **override)
    except (TypeError, ValueError) as err:
        parser.error(str(err))  # names the setting: `exposure_gate` or `output_target`
    training = {**training, **{k: list(v) if isinstance(v, tuple) else v for k, v in override.items()}}
    target = weights / args.name
    target.mkdir(parents=True, exist_ok=True)
    card = target / "README.md"
    kept = card.read_text() if card.is_file() else None
    model.save_pretrained(target)
    if kept is not None:  # save_pretrained writes a generic card; keep ours
        card.write_text(kept)
    export = f"python benchmarks/export_builtin.py {shlex.quote(str(args.run))} {args.name}"
    if args.exposure_gate is not None:
        export += " --exposure-gate " + " ".join(f"{v:g}" for v in args.exposure_gate)
    if args.output_target is not None:
        export += f" --output-target {args.output_target:g}"
    training = {k: v for k, v in training.items() if k != "command"}
    record = {"command": tilde(f"{args.command} && {export}"), **training}
    (target / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {target}")
    return target


if __name__ == "__main__":
    main()
