"""Input checks shared by models, losses and transforms.

Every check raises ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (right kind, wrong value) with a message of the form
"`name` expected ..., got ...", so the user sees which argument is wrong
without reading a stack trace. They never use ``assert``, which ``python -O``
removes.

Type and shape checks cost nothing and always run. Value checks (finite, in
range) need one device-to-host transfer each; they run where user data enters
(the public functions and modules when a user calls them, the CLI, the data
sets) and can be turned off for production loops with `set_value_checks` or,
for one block of code in one thread, the `value_checks` context manager (or
the environment variable ``LLENHANCE_VALUE_CHECKS=0``). Internal calls (a
composite loss calling its parts, the trainer's step, tiled inference) run
inside ``value_checks(False)`` after checking their inputs once.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import warnings
from collections.abc import Iterator, Sequence

import torch

__all__ = [
    "PRED_RANGE_SLACK",
    "check_finite_number",
    "check_image",
    "check_image_pair",
    "check_interval",
    "check_logits",
    "check_nonnegative",
    "check_positive_int",
    "check_same_shape",
    "deprecated_alias",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
]

#: How far a *prediction* (an unclamped network output during training) may
#: leave [0, 1] before it is taken for a different value convention (0-255);
#: a network early in training or at a high learning rate overshoots by about 1.
#: Targets and inputs get no slack.
PRED_RANGE_SLACK = 4.0


_enabled = os.environ.get("LLENHANCE_VALUE_CHECKS", "1").strip().lower() not in ("0", "false", "off", "no")
_local = threading.local()  # per-thread override set by `value_checks`


def value_checks_enabled() -> bool:
    """Whether value checks (finite, in range) run here and now."""
    override = getattr(_local, "override", None)
    return _enabled if override is None else override


def set_value_checks(enabled: bool) -> bool:
    """Turn value checks (finite values, value ranges) on or off for the whole process.

    Type and shape checks always run. Off, a NaN or a 0-255 image is no longer
    caught at the door: turn them off only in loops whose inputs you trust.

    Args:
        enabled: ``True`` (the default state) or ``False``.

    Returns:
        bool: The previous setting.

    Examples:
        >>> import llenhance
        >>> previous = llenhance.set_value_checks(False)
        >>> llenhance.set_value_checks(previous)
        False
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"`enabled` expected a bool, got {type(enabled).__name__}")
    previous, _enabled = _enabled, enabled
    return previous


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Turn value checks on or off inside a ``with`` block, in this thread only.

    Examples:
        >>> import torch, llenhance
        >>> from llenhance.metrics import psnr
        >>> with llenhance.value_checks(False):
        ...     psnr(torch.full((1, 3, 4, 4), 2.0), torch.ones(1, 3, 4, 4)).shape  # 2.0 is not rejected
        torch.Size([1])
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"`enabled` expected a bool, got {type(enabled).__name__}")
    previous = getattr(_local, "override", None)
    _local.override = enabled
    try:
        yield
    finally:
        _local.override = previous


def unchecked() -> contextlib.AbstractContextManager[None]:
    """Internal calls after their inputs were checked once: ``value_checks(False)``."""
    return value_checks(False)


def _tracing() -> bool:
    return bool(torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export())


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"Tensor(shape={tuple(x.shape)}, dtype={x.dtype})"
    return f"{type(x).__name__}"


def check_image(
    x: object,
    name: str,
    *,
    allow_unbatched: bool = False,
    channels: int | None = 3,
    slack: float = 0.0,
    _values: bool = True,
) -> torch.Tensor:
    """Check that ``x`` is a float RGB image tensor with values in [0, 1].

    Args:
        x: the object to check.
        name: the argument name used in error messages.
        allow_unbatched: accept a single (C, H, W) image besides (B, C, H, W).
        channels: required channel count, or ``None`` for any.
        slack: how far values may leave [0, 1] (see ``PRED_RANGE_SLACK``).

    Returns:
        ``x`` itself, typed as a tensor.

    Raises:
        TypeError: ``x`` is not a tensor or not floating point.
        ValueError: wrong number of dimensions or channels, an empty image,
            NaN/inf, or values outside the allowed range.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` expected a torch.Tensor, got {_describe(x)}")
    if not x.is_floating_point():
        hint = " (convert with x.float() / 255)" if x.dtype == torch.uint8 else ""
        raise TypeError(
            f"`{name}` expected a floating point tensor with values in [0, 1], "
            f"got dtype {x.dtype}{hint}"
        )
    shapes = "(B, C, H, W) or (C, H, W)" if allow_unbatched else "(B, C, H, W)"
    if x.ndim != 4 and not (allow_unbatched and x.ndim == 3):
        raise ValueError(f"`{name}` expected shape {shapes}, got {tuple(x.shape)}")
    if channels is not None and x.shape[-3] != channels:
        raise ValueError(
            f"`{name}` expected {channels} channels (dim -3) in shape {shapes}, "
            f"got shape {tuple(x.shape)}"
        )
    if x.numel() == 0:
        raise ValueError(f"`{name}` expected a non-empty image, got shape {tuple(x.shape)}")
    if not _values or _tracing() or not value_checks_enabled():
        return x  # value checks would freeze into a traced or exported graph; or they are off
    # One device-to-host transfer: NaN and inf show in the min or max.
    lo_v, hi_v = torch.stack(torch.aminmax(x.detach())).tolist()
    _check_values(lo_v, hi_v, name, slack)
    return x


def _check_values(lo_v: float, hi_v: float, name: str, slack: float) -> None:
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)):
        raise ValueError(f"`{name}` expected finite values, got NaN or inf")
    if lo_v < -slack or hi_v > 1.0 + slack:
        allowed = "[0, 1]" if slack == 0 else f"[0, 1] (give or take {slack})"
        hint = " (did you pass 0-255 values?)" if hi_v > 2.0 else ""
        raise ValueError(
            f"`{name}` expected values in {allowed}, got range "
            f"[{lo_v:.8g}, {hi_v:.8g}]{hint}"  # 8 digits: 1.0000001 must not read as 1
        )


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_b}` expected the shape of `{name_a}` {tuple(a.shape)}, "
            f"got {tuple(b.shape)}"
        )


def check_image_pair(
    pred: object, target: object, *, names: tuple[str, str] = ("pred", "target")
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a loss's (pred, target) pair: float RGB (B, 3, H, W), same shape.

    ``target`` must lie in [0, 1]; ``pred`` may leave it by
    ``PRED_RANGE_SLACK`` (a network output is unclamped while training).
    Both value checks share one device-to-host transfer.
    """
    for x, name in ((pred, names[0]), (target, names[1])):
        check_image(x, name, _values=False)
    check_same_shape(pred, target, *names)  # type: ignore[arg-type]
    if not _tracing() and value_checks_enabled():
        p, t = pred.detach(), target.detach()  # type: ignore[union-attr]
        p_lo, p_hi, t_lo, t_hi = torch.stack([*torch.aminmax(p), *torch.aminmax(t.to(device=p.device, dtype=p.dtype))]).tolist()
        _check_values(p_lo, p_hi, names[0], PRED_RANGE_SLACK)
        _check_values(t_lo, t_hi, names[1], 0.0)
    return pred, target  # type: ignore[return-value]


def check_finite_number(value: object, name: str) -> float:
    """Return ``value`` as a float; raise unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` expected a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` expected a finite number, got {value}")
    return float(value)


def check_nonnegative(value: object, name: str) -> float:
    """Return ``value`` as a float; raise unless it is finite and >= 0."""
    v = check_finite_number(value, name)
    if v < 0:
        raise ValueError(f"`{name}` expected a non-negative number, got {value}")
    return v


def check_positive_int(value: object, name: str) -> int:
    """Return ``value``; raise unless it is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` expected an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"`{name}` expected an int >= 1, got {value}")
    return value


def check_interval(
    value: object,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
) -> tuple[float, float]:
    """Check a ``(lo, hi)`` range with ``low <= lo <= hi <= high``.

    Returns:
        The range as a tuple of two floats.
    """
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise TypeError(f"`{name}` expected a (low, high) pair of numbers, got {value!r}")
    lo = check_finite_number(value[0], f"{name}[0]")
    hi = check_finite_number(value[1], f"{name}[1]")
    if lo > hi:
        raise ValueError(f"`{name}` expected low <= high, got {value!r} (upside down)")
    if lo < low or hi > high:
        raise ValueError(f"`{name}` expected values within [{low}, {high}], got {value!r}")
    return lo, hi


def check_logits(x: object, name: str, *, batch: int | None = None) -> torch.Tensor:
    """Check that ``x`` is a (B, num_classes) float tensor of finite logits."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` expected a (B, num_classes) tensor, got {_describe(x)}")
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(
            f"`{name}` expected shape (B, num_classes) with num_classes >= 2, "
            f"got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"`{name}` expected floating point logits, got dtype {x.dtype}")
    if batch is not None and x.shape[0] != batch:
        raise ValueError(f"`{name}` expected batch size {batch}, got {x.shape[0]}")
    if not _tracing() and value_checks_enabled() and not torch.isfinite(x).all():
        raise ValueError(f"`{name}` expected finite values, got NaN or inf")
    return x


def deprecated_alias(old: object, old_name: str, new: object, new_name: str) -> object:
    """``new``, or ``old`` with a ``DeprecationWarning`` when the keyword of earlier versions was given (not None).

    Examples:
        >>> deprecated_alias(None, "half", True, "amp")
        True
    """
    if old is None:
        return new
    warnings.warn(f"`{old_name}` is deprecated since llenhance 0.4: it is now `{new_name}`", DeprecationWarning,
                  stacklevel=3)
    return old
