"""``python -m hypersio``: the command line (see ``hypersio.cli``)."""

import sys

from hypersio.cli import main

if __name__ == "__main__":
    sys.exit(main())
