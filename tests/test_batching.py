"""ShapeBatcher: the batches enhance() and evaluate_pairs() run, checked against hand-made groupings."""

from __future__ import annotations

from llenhance._batching import ShapeBatcher


def _batches(shapes: list[tuple[int, ...]], batch_size: int, max_pixels: int | None = None) -> list[list[int]]:
    seen: list[list[int]] = []
    batcher = ShapeBatcher(seen.append, batch_size, max_pixels)
    for i, shape in enumerate(shapes):
        batcher.add(i, shape)
    batcher.flush()
    batcher.flush()  # a second flush hands over nothing
    return seen


def test_consecutive_items_of_one_shape_share_a_batch_of_at_most_batch_size() -> None:
    a, b = (1, 3, 4, 5), (1, 3, 5, 4)
    assert _batches([a, a, a, b, b, a], batch_size=2) == [[0, 1], [2], [3, 4], [5]]
    assert _batches([a] * 5, batch_size=8) == [[0, 1, 2, 3, 4]]
    assert _batches([a, b, a], batch_size=8) == [[0], [1], [2]]  # never reordered
    assert _batches([], batch_size=4) == []


def test_channels_count_as_part_of_the_shape() -> None:
    assert _batches([(1, 3, 4, 4), (1, 1, 4, 4)], batch_size=4) == [[0], [1]]


def test_pixel_budget_caps_a_batch() -> None:
    a = (1, 3, 10, 10)  # 100 pixels each
    assert _batches([a] * 5, batch_size=8, max_pixels=250) == [[0, 1], [2, 3], [4]]
    assert _batches([(1, 3, 20, 20)] * 2, batch_size=8, max_pixels=250) == [[0], [1]]  # one alone may pass it
