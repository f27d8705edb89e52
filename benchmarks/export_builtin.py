"""Copy trained enhancer weights into the package as a built-in.

Run:
    python benchmarks/export_builtin.py RUN_DIR NAME

RUN_DIR is an ``llenhance train`` output folder (``config.json``,
``model.safetensors``, ``training.json``); the weights are stored in
``src/llenhance/weights/NAME`` with ``summary.json`` (the training record).
The model card (``README.md``) is written by hand beside them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from llenhance import LLENet

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "llenhance" / "weights"


def main() -> None:
    run, name = Path(sys.argv[1]), sys.argv[2]
    model = LLENet.from_pretrained(run)
    target = PACKAGE_WEIGHTS / name
    target.mkdir(parents=True, exist_ok=True)
    card = target / "README.md"
    kept = card.read_text() if card.is_file() else None
    model.save_pretrained(target)
    if kept is not None:  # save_pretrained writes a generic card; keep ours
        card.write_text(kept)
    record = json.loads((run / "training.json").read_text())
    (target / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
