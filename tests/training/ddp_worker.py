"""Run by tests/training/test_ddp.py, under torchrun or as a single process.

Usage: python ddp_worker.py OUT_DIR [joint]
Trains the tiny enhancer for 4 iterations at a global batch of 4 and saves
its weights to OUT_DIR/rank{RANK}.pt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llenhance import FERGuidedTrainer  # noqa: E402
from llenhance.losses import ReconstructionLoss  # noqa: E402
from tests.training.helpers import TinyClassifier, TinyPairs, tiny_enhancer  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    joint = len(sys.argv) > 2 and sys.argv[2] == "joint"
    torch.set_num_threads(1)
    net = tiny_enhancer()
    trainer = FERGuidedTrainer(
        net,
        TinyClassifier() if joint else None,
        reconstruction=ReconstructionLoss(perceptual=0),
        batch_size=4,
        progress=False,
        checkpoint_dir=out / "checkpoints",
        checkpoint_every=2,
    )
    trainer.fit(TinyPairs(), iterations=4)
    torch.save(net.state_dict(), out / f"rank{os.environ.get('RANK', '0')}.pt")
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
