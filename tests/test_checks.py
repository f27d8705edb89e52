from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import torch

from llenhance import set_value_checks, value_checks
from llenhance._checks import (
    check_image,
    check_image_pair,
    check_interval,
    check_logits,
    check_nonnegative,
    check_positive_int,
    value_checks_enabled,
)


class TestCheckImage:
    def test_smoke(self) -> None:
        x = torch.rand(2, 3, 4, 4)
        assert check_image(x, "x") is x

    def test_unbatched(self) -> None:
        check_image(torch.rand(3, 4, 4), "x", allow_unbatched=True)
        with pytest.raises(ValueError, match=r"`x` expected shape \(B, C, H, W\), got \(3, 4, 4\)"):
            check_image(torch.rand(3, 4, 4), "x")

    @pytest.mark.parametrize(
        ("value", "error", "match"),
        [
            ([0.5], TypeError, "`img` expected a torch.Tensor, got list"),
            (torch.zeros(1, 3, 4, 4, dtype=torch.uint8), TypeError, r"floating point.*uint8.*/ 255"),
            (torch.rand(1, 4, 4, 4), ValueError, "expected 3 channels"),
            (torch.rand(1, 3, 0, 4), ValueError, "non-empty"),
            (torch.full((1, 3, 2, 2), float("nan")), ValueError, "finite"),
            (torch.full((1, 3, 2, 2), float("inf")), ValueError, "finite"),
            (torch.full((1, 3, 2, 2), 255.0), ValueError, r"\[0, 1\], got range \[255, 255\].*0-255"),
            (torch.full((1, 3, 2, 2), -0.1), ValueError, r"values in \[0, 1\]"),
            (torch.rand(3, 2, 2, 2, 2), ValueError, "expected shape"),
        ],
    )
    def test_exception(self, value: object, error: type, match: str) -> None:
        with pytest.raises(error, match=match):
            check_image(value, "img")

    def test_slack(self) -> None:
        x = torch.full((1, 3, 2, 2), 1.3)
        check_image(x, "pred", slack=0.5)
        with pytest.raises(ValueError, match="give or take 0.5"):
            check_image(x + 0.3, "pred", slack=0.5)

    def test_pair_shapes(self) -> None:
        with pytest.raises(ValueError, match=r"`target` expected the shape of `pred` \(1, 3, 4, 4\), got \(1, 3, 4, 5\)"):
            check_image_pair(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))

    def test_pair_target_has_no_slack(self) -> None:
        with pytest.raises(ValueError, match="`target` expected values in"):
            check_image_pair(torch.rand(1, 3, 4, 4), torch.full((1, 3, 4, 4), 1.2))


class TestCheckNumbers:
    def test_nonnegative(self) -> None:
        assert check_nonnegative(0, "w") == 0.0
        with pytest.raises(ValueError, match="`w` expected a non-negative number, got -1"):
            check_nonnegative(-1, "w")
        with pytest.raises(TypeError, match="`w` expected a real number, got str"):
            check_nonnegative("1", "w")
        with pytest.raises(ValueError, match="finite"):
            check_nonnegative(float("nan"), "w")

    def test_positive_int(self) -> None:
        with pytest.raises(ValueError, match="`n` expected an int >= 1, got 0"):
            check_positive_int(0, "n")
        with pytest.raises(TypeError, match="`n` expected an int, got bool"):
            check_positive_int(True, "n")

    def test_interval(self) -> None:
        assert check_interval((1, 2), "gamma") == (1.0, 2.0)
        with pytest.raises(ValueError, match=r"`gamma` expected low <= high, got \(5, 1.5\) \(upside down\)"):
            check_interval((5, 1.5), "gamma")
        with pytest.raises(ValueError, match=r"within \[0.0, 1.0\]"):
            check_interval((0.5, 1.5), "beta", low=0.0, high=1.0)
        with pytest.raises(TypeError, match="pair"):
            check_interval(0.5, "beta")

    def test_logits(self) -> None:
        check_logits(torch.randn(2, 7), "logits", batch=2)
        with pytest.raises(ValueError, match=r"`logits` expected shape \(B, num_classes\)"):
            check_logits(torch.randn(2, 7, 1), "logits")
        with pytest.raises(ValueError, match="batch size 3, got 2"):
            check_logits(torch.randn(2, 7), "logits", batch=3)


class TestValueCheckSwitch:
    def test_off_skips_values_not_shapes(self) -> None:
        bad = torch.full((1, 3, 4, 4), 255.0)
        with value_checks(False):
            assert check_image(bad, "x") is bad
            with pytest.raises(ValueError, match="expected 3 channels"):
                check_image(torch.rand(1, 4, 4, 4), "x")
            check_logits(torch.full((2, 3), float("nan")), "logits")
        with pytest.raises(ValueError, match=r"`x` expected values in \[0, 1\]"):
            check_image(bad, "x")  # back on after the block

    def test_block_is_per_thread(self) -> None:
        bad = torch.full((1, 3, 4, 4), float("nan"))
        seen: list[str] = []

        def other() -> None:
            try:
                check_image(bad, "x")
            except ValueError as err:
                seen.append(str(err))

        with value_checks(False):
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        assert seen == ["`x` expected finite values, got NaN or inf"]

    def test_global_switch(self) -> None:
        previous = set_value_checks(False)
        try:
            assert previous is True and not value_checks_enabled()
            check_image(torch.full((1, 3, 2, 2), 2.0), "x")
            with value_checks(True):  # a block may turn them back on
                with pytest.raises(ValueError, match="expected values in"):
                    check_image(torch.full((1, 3, 2, 2), 2.0), "x")
        finally:
            set_value_checks(previous)
        with pytest.raises(TypeError, match="`enabled` expected a bool, got int"):
            set_value_checks(0)  # type: ignore[arg-type]

    def test_environment_variable(self) -> None:
        code = "import llenhance._checks as c; print(c.value_checks_enabled())"
        for value, expected in (("0", "False"), ("off", "False"), ("1", "True")):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, "LLENHANCE_VALUE_CHECKS": value})
            assert out.stdout.strip() == expected

    def test_pair_is_one_transfer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls = []
        tolist = torch.Tensor.tolist
        monkeypatch.setattr(torch.Tensor, "tolist", lambda self: calls.append(1) or tolist(self))
        check_image_pair(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
        assert len(calls) == 1
