"""Ingest benchmark: ``python bench/ingest.py --input ../shared/data/twcs/twcs_union.csv.gz [--database-url URL] --json``.

The same as ``veille bench ingest``: the full pipeline into a fresh database against a baseline
of plain inserts of the same normalised rows, measured in the same run.
"""

import sys

from veille.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "ingest", *sys.argv[1:]]))
