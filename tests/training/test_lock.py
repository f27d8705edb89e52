from __future__ import annotations

from pathlib import Path

import pytest

from llenhance.training.lock import LOCK_NAME, run_lock


def test_a_failed_run_leaves_no_empty_folders(tmp_path: Path) -> None:
    """The folders the lock created are removed when the run wrote nothing; a run's files, and folders that
    were there before, stay."""
    with pytest.raises(RuntimeError, match="boom"):
        with run_lock(tmp_path / "runs" / "a") as lock:
            assert lock == tmp_path / "runs" / "a" / LOCK_NAME and lock.is_file()
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with run_lock(tmp_path / "runs" / "b"):
        (tmp_path / "runs" / "b" / "model.safetensors").write_bytes(b"x")
    assert sorted(p.name for p in (tmp_path / "runs" / "b").iterdir()) == ["model.safetensors"]
    (tmp_path / "mine").mkdir()
    with run_lock(tmp_path / "mine"):
        pass
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []
