"""``veille bench nlp``: all four models together per post, against py3langid alone."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(args: argparse.Namespace) -> int:
    from veille.nlp.bench import run

    figures = run(Path(args.data) if args.data else None, args.n)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    return 0
