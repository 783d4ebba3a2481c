"""Listening benchmark: ``python bench/listening.py --posts N --searches S [--database-url URL] --json``.

The same as ``veille bench listening`` (see ``veille/bench/listening.py`` for what is measured).
"""

import sys

from veille.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "listening", *sys.argv[1:]]))
