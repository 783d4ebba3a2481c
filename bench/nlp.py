"""Benchmark of the nlp models on one core: python bench/nlp.py [--data DIR] [--json].

See veille/nlp/bench.py for what is measured.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

try:
    from veille.nlp import bench
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from veille.nlp import bench


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared/data folder (real tweets)")
    parser.add_argument("-n", type=int, default=20000, help="number of texts (default 20000)")
    parser.add_argument("--batch", type=int, default=1000, help="batch size (default 1000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.data is not None and not args.data.is_dir():
        print(f"bench/nlp.py: error: data directory not found: {args.data}", file=sys.stderr)
        return 2
    result = bench.run(args.data, n=args.n, batch=args.batch)
    print(json.dumps(result) if args.json else bench.format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
