"""``python -m streams.cli``: the same as the ``truesli`` script."""

import sys

from streams.cli import main

if __name__ == "__main__":  # not when a spawned child (Stage A's process) imports the parent's main
    sys.exit(main())
