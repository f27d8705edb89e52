from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def _run(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@pytest.mark.parametrize("mode", ["reconstruction", "joint"])
def test_two_gloo_ranks_match_one_process(tmp_path: Path, mode: str) -> None:
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    ddp.mkdir()
    single.mkdir()
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
          str(WORKER), str(ddp), mode])
    _run([sys.executable, str(WORKER), str(single), mode])

    rank0 = torch.load(ddp / "rank0.pt", weights_only=True)
    rank1 = torch.load(ddp / "rank1.pt", weights_only=True)
    reference = torch.load(single / "rank0.pt", weights_only=True)
    for name, value in rank0.items():
        torch.testing.assert_close(value, rank1[name], rtol=0, atol=0, msg=f"ranks differ at {name}")
    # Adam divides by sqrt(v): where a gradient is near zero, float rounding
    # differences between the two reductions grow to a fraction of a step
    # (lr 3e-4). Another batch order (seed=1) moves about 90% of the weights by
    # more than 1e-6, so the fraction bound below tells the two apart.
    diff = torch.cat([(value - reference[name]).abs().flatten() for name, value in rank0.items()])
    assert diff.max() < 1e-4
    assert (diff > 1e-6).float().mean() < 0.01
    # rank 0 alone writes checkpoints
    assert (ddp / "checkpoints" / "checkpoint.pt").is_file()
    state = torch.load(ddp / "checkpoints" / "checkpoint.pt", weights_only=True)
    assert state["config"]["world_size"] == 2 and state["iteration"] == 4
