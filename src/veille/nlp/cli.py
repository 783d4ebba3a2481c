"""``veille nlp train`` and ``veille nlp eval``.

``register(subparsers)`` adds the ``nlp`` command to the ``veille`` argument parser; every
sub-command sets ``func`` (``handler(args) -> int`` exit code).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .evaluate import TASKS


def register(subparsers) -> None:
    nlp = subparsers.add_parser(
        "nlp",
        help="language, sentiment, complaint and abuse models: train and evaluate",
        description="Train and evaluate the models shipped in veille/nlp/model_files.",
    )
    sub = nlp.add_subparsers(dest="nlp_command", metavar="{train,eval}")
    sub.required = True

    train = sub.add_parser(
        "train",
        help="train all models from the labelled data sets and write the model card",
        description="Train the sentiment, complaint and abuse models (reproducible: fixed seeds), "
        "report validation metrics from train-only models, then write models retrained on "
        "train+val to --out, and the model card to --card.",
    )
    train.add_argument("--data", required=True, type=Path, metavar="DIR", help="the shared/data folder")
    train.add_argument(
        "--out", type=Path, default=None, metavar="DIR",
        help="where to write the model files (default: the package's model_files directory)",
    )
    train.add_argument(
        "--card", type=Path, default=Path("docs/models.md"), metavar="FILE",
        help="model card to write (default: docs/models.md)",
    )
    train.add_argument("--no-card", action="store_true", help="do not write the model card")
    train.add_argument(
        "--include-corrections", action="store_true",
        help="add the agents' corrections stored in the database to the training data",
    )
    train.set_defaults(func=_train_handler)

    ev = sub.add_parser(
        "eval",
        help="evaluate the shipped models on a labelled file pair",
        description="Read one text per line (--text) and one label per line (--labels: sentiment "
        "0/1/2 = negative/neutral/positive, complaint and abuse 0/1, language ISO 639-1 codes) "
        "and print accuracy, macro-F1, macro-recall, per-class metrics and throughput.",
    )
    ev.add_argument("--task", required=True, choices=TASKS)
    ev.add_argument("--text", required=True, type=Path, metavar="FILE")
    ev.add_argument("--labels", required=True, type=Path, metavar="FILE")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=_eval_handler)


def _error(message: str) -> int:
    print(f"veille nlp: error: {message}", file=sys.stderr)
    return 2


def _eval_handler(args: argparse.Namespace) -> int:
    from .analyzer import ModelFilesMissing
    from .evaluate import EvalInputError, evaluate, format_report, read_lines

    try:
        texts = read_lines(args.text)
        labels = read_lines(args.labels)
        if len(texts) != len(labels):
            raise EvalInputError(
                f"line count mismatch: {args.text} has {len(texts)} lines, "
                f"{args.labels} has {len(labels)} lines"
            )
        metrics = evaluate(args.task, texts, labels)
    except (EvalInputError, ModelFilesMissing) as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(metrics, sort_keys=True))
    else:
        print(format_report(metrics))
    return 0


def _train_handler(args: argparse.Namespace) -> int:
    from .data import DataError
    from .train import train

    if not args.data.is_dir():
        return _error(f"data directory not found: {args.data}")
    extra = None
    if args.include_corrections:
        try:
            from . import corrections  # provided by the Django side
        except ImportError as exc:
            return _error(
                "--include-corrections needs veille.nlp.corrections.load_training_examples(), "
                f"which is not available ({exc})"
            )
        loader = getattr(corrections, "load_training_examples", None)
        if loader is None:
            return _error("veille.nlp.corrections has no load_training_examples()")
        extra = loader()
    card = None if args.no_card else args.card
    try:
        metrics = train(args.data, out_dir=args.out, extra_examples=extra, card_path=card)
    except DataError as exc:
        return _error(str(exc))
    summary = metrics.get("summary", {})
    for key, value in summary.items():
        print(f"{key:<36} {value}")
    return 0
