"""``python -m llenhance.cli``."""

import sys

from llenhance.cli import main

sys.exit(main())
