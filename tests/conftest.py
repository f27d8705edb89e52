from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Test tensors are tiny: one thread is as fast, and immune to oversubscription
# when something else (a training run) keeps the other cores busy.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data; skip the test with a clear reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (only present in the development checkout)")
    return path


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
