"""Run the care benchmark (``veille bench care``) with the figures the issue asks for.

    python bench/care.py --agents 400 --duration 60 --database-url postgresql://postgres@127.0.0.1:5432/veille
"""

from __future__ import annotations

import sys

from veille.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "care", "--json", *sys.argv[1:]]))
