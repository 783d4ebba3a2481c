"""Evaluation of the shipped models on labelled text files (TweetEval / XLM-T line format).

``veille nlp eval --task sentiment --text val_text.txt --labels val_labels.txt`` reads one text
per line and one label per line and prints accuracy, macro-F1, macro-recall, per-class
precision / recall / F1 and the throughput. Metrics are computed here with plain Python so
inference and evaluation need neither scikit-learn nor pandas.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

TASKS = ("language", "sentiment", "complaint", "abuse")
SENTIMENT_LABELS = ("negative", "neutral", "positive")  # TweetEval / XLM-T ids 0, 1, 2


class EvalInputError(ValueError):
    """Bad evaluation input (missing file, undecodable text, mismatched line counts, bad label).
    The message is meant for the person at the terminal."""


def read_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 text file, one item per line.

    A final newline is optional (XLM-T files have none, TweetEval files have one); ``\\r\\n``
    and a UTF-8 byte-order mark are accepted. Only ``\\n`` (and ``\\r\\n``) end a line, so a
    stray ``\\r`` or U+2028 inside a tweet does not split it. Invalid UTF-8 raises
    :class:`EvalInputError` naming the file and the line.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise EvalInputError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise EvalInputError(f"expected a file, got a directory: {p}") from None
    except OSError as exc:
        raise EvalInputError(f"cannot read {p}: {exc.strerror or exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise EvalInputError(
            f"{p}: not valid UTF-8 at line {line_no} (byte offset {exc.start})"
        ) from None
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# --------------------------------------------------------------------------- metrics
def classification_metrics(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str] | None = None) -> dict:
    """Accuracy, macro-F1, macro-recall and per-class precision / recall / F1 / support.

    ``classes`` fixes the classes averaged over (default: every class seen in gold or pred).
    A class with no prediction has precision 0; with no gold item, recall 0 (as scikit-learn's
    ``zero_division=0``)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    if classes is None:
        classes = sorted(set(gold) | set(pred))
    n = len(gold)
    per_class = {}
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    k = len(classes) or 1
    return {
        "n": n,
        "accuracy": (sum(1 for g, p in zip(gold, pred) if g == p) / n) if n else 0.0,
        "macro_f1": sum(v["f1"] for v in per_class.values()) / k,
        "macro_recall": sum(v["recall"] for v in per_class.values()) / k,
        "per_class": per_class,
    }


# --------------------------------------------------------------------------- labels
def normalise_labels(task: str, labels: Sequence[str]) -> list[str]:
    """File labels -> the label strings the analyzer predicts, checking each one."""
    out = []
    for i, raw in enumerate(labels, start=1):
        lab = raw.strip()
        if task == "sentiment":
            mapped = {"0": "negative", "1": "neutral", "2": "positive"}.get(lab, lab.lower())
            if mapped not in SENTIMENT_LABELS:
                raise EvalInputError(f"line {i}: sentiment label must be 0, 1 or 2, got {raw!r}")
        elif task in ("complaint", "abuse"):
            try:
                value = float(lab)
            except ValueError:
                value = -1.0
            if value not in (0.0, 1.0):
                raise EvalInputError(f"line {i}: {task} label must be 0 or 1, got {raw!r}")
            mapped = str(int(value))
        elif task == "language":
            mapped = lab.lower()
            if not mapped:
                raise EvalInputError(f"line {i}: empty language label")
        else:
            raise EvalInputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        out.append(mapped)
    return out


def predict(task: str, texts: Sequence[str], analyzer=None) -> list[str]:
    """The analyzer's label for each text, as strings comparable with ``normalise_labels``."""
    if analyzer is None:
        from .analyzer import get_analyzer

        analyzer = get_analyzer()
    if task == "language":
        return [lang for lang, _ in analyzer.detect_languages(texts)]
    results = analyzer.analyze(texts)
    if task == "sentiment":
        return [r.sentiment for r in results]
    if task == "complaint":
        return ["1" if r.complaint >= 0.5 else "0" for r in results]
    if task == "abuse":
        return ["1" if r.abuse >= 0.5 else "0" for r in results]
    raise EvalInputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def evaluate(task: str, texts: list[str], labels: list[str], analyzer=None) -> dict:
    """Run the shipped model for ``task`` on ``texts`` and score it against ``labels``.

    Returns ``n``, ``accuracy``, ``macro_f1``, ``macro_recall``, ``per_class`` (precision,
    recall, f1, support per class) and ``posts_per_s``; for complaint and abuse also
    ``f1_positive`` (F1 of class "1")."""
    if task not in TASKS:
        raise EvalInputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if len(texts) != len(labels):
        raise EvalInputError(
            f"line count mismatch: {len(texts)} texts but {len(labels)} labels"
        )
    gold = normalise_labels(task, labels)
    if analyzer is None:  # load the models before the clock starts
        from .analyzer import get_analyzer

        analyzer = get_analyzer()
    start = time.perf_counter()
    pred = predict(task, texts, analyzer)
    elapsed = time.perf_counter() - start
    if task == "sentiment":
        classes: list[str] = list(SENTIMENT_LABELS)
    elif task in ("complaint", "abuse"):
        classes = ["0", "1"]
    else:
        classes = sorted(set(gold))  # languages: average over the languages of the gold file
    metrics = classification_metrics(gold, pred, classes)
    if task == "language":
        metrics["und"] = sum(1 for p in pred if p == "und")
    if task in ("complaint", "abuse"):
        metrics["f1_positive"] = metrics["per_class"]["1"]["f1"]
    metrics["task"] = task
    metrics["posts_per_s"] = (len(texts) / elapsed) if elapsed > 0 and texts else 0.0
    return metrics


def format_report(metrics: dict) -> str:
    """Human-readable report of :func:`evaluate`'s result."""
    lines = [
        f"task          {metrics.get('task', '?')}",
        f"n             {metrics['n']}",
        f"accuracy      {metrics['accuracy']:.4f}",
        f"macro_f1      {metrics['macro_f1']:.4f}",
        f"macro_recall  {metrics['macro_recall']:.4f}",
    ]
    if "f1_positive" in metrics:
        lines.append(f"f1_positive   {metrics['f1_positive']:.4f}")
    if "und" in metrics:
        lines.append(f"und           {metrics['und']}")
    lines.append(f"posts_per_s   {metrics['posts_per_s']:.0f}")
    lines.append("")
    lines.append(f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for c, v in metrics["per_class"].items():
        lines.append(f"{c:<12}{v['precision']:>10.4f}{v['recall']:>10.4f}{v['f1']:>10.4f}{v['support']:>10}")
    return "\n".join(lines)
