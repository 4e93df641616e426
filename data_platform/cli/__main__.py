"""``python -m data_platform.cli``: the ``data-platform`` command without its console script."""

import sys

from data_platform.cli import main

sys.exit(main())
