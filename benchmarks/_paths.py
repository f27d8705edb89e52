"""Where the benchmarks find their data: one place.

``LLENHANCE_DATA`` (a folder laid out as ``../shared/data``: ``fer2013/``,
``sice/``, ``dicm/``, ``weights/``) or, by default, ``../shared/data`` beside
the checkout. ``LLENHANCE_WORK`` (default ``~/.cache/llenhance``): where trained
classifiers, enhancers and run folders are kept and reused.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(os.environ.get("LLENHANCE_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
#: Where the benchmarks keep what they train and reuse (classifiers, enhancers, run folders): ``LLENHANCE_WORK``
#: or ``~/.cache/llenhance``.
WORK = Path(os.environ.get("LLENHANCE_WORK", Path.home() / ".cache" / "llenhance"))
