"""Batching of consecutive single images of one size (``enhance`` and ``evaluate_pairs``).

Images of different sizes cannot share a forward pass, and a user's list is
usually sorted by source, so consecutive images of one size are what can be
batched without reordering (which would keep every image in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["ShapeBatcher"]


class ShapeBatcher(Generic[T]):
    """Collects items of one image size and hands them to ``run`` as one batch.

    ``run`` gets the items in the order they were added; it is called when a
    batch holds ``batch_size`` items, before an item of another shape (or one
    that would take the batch past ``max_pixels`` pixels in all) joins, and on
    ``flush()``.
    """

    def __init__(self, run: Callable[[list[T]], None], batch_size: int, max_pixels: int | None = None) -> None:
        self._run, self._batch_size, self._max_pixels = run, batch_size, max_pixels
        self._items: list[T] = []
        self._shape: tuple[int, ...] = ()

    def add(self, item: T, shape: tuple[int, ...]) -> None:
        """Add ``item``, an image of ``shape`` (..., height, width): items of one shape share a batch."""
        pixels = shape[-2] * shape[-1]
        if self._items and (shape != self._shape or (self._max_pixels is not None
                                                     and (len(self._items) + 1) * pixels > self._max_pixels)):
            self.flush()
        self._items.append(item)
        self._shape = shape
        if len(self._items) == self._batch_size:
            self.flush()

    def flush(self) -> None:
        """Hand the waiting items (if any) to ``run``."""
        if self._items:
            items, self._items = self._items, []
            self._run(items)
