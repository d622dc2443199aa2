"""``python -m streams.cli``: the same as the ``truesli`` script."""

import sys

from streams.cli import main

sys.exit(main())
