"""Readers for the labelled data sets in ``shared/data`` (training only; never shipped).

Every reader returns plain lists; labels are ints (sentiment 0 negative / 1 neutral /
2 positive, complaint and abuse 0/1). See ``shared/data/README.md`` for the formats.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .evaluate import read_lines

XLMT_LANGUAGES = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}
SEMEVAL_FILE = "semeval2017_task4A_english/semeval2017_task4A_english_2013_2016.tsv.gz"
SEMEVAL_LABELS = {"negative": 0, "neutral": 1, "positive": 2}
COMPLAINT_FILES = ("airlines_set1_finalLabels.csv", "telecom_set1_finalLabels.csv")


class DataError(RuntimeError):
    """A data file is missing or not in the expected format."""


@dataclass
class Split:
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # language or source of each row

    def extend(self, texts, labels, group: str) -> None:
        if len(texts) != len(labels):
            raise DataError(f"{group}: {len(texts)} texts but {len(labels)} labels")
        self.texts.extend(texts)
        self.labels.extend(int(x) for x in labels)
        self.groups.extend([group] * len(texts))

    def __len__(self) -> int:
        return len(self.texts)


def _need(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"missing data file: {path}")
    return path


def dedupe_key(text: str) -> str:
    """Loose identity of a tweet: lower case, no URLs, mentions folded, only word characters.
    Used to keep evaluation tweets out of training data that comes from another copy."""
    text = re.sub(r"https?://\S+|\bhttps?\b", "", text)
    text = re.sub(r"@\w+", "@user", text)
    return re.sub(r"\W+", "", text.lower())


# --------------------------------------------------------------------------- line files
def read_pair(data_dir: Path, folder: str, split: str) -> tuple[list[str], list[int]]:
    texts = read_lines(_need(data_dir / folder / f"{split}_text.txt"))
    labels = read_lines(_need(data_dir / folder / f"{split}_labels.txt"))
    if len(texts) != len(labels):
        raise DataError(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, [int(x) for x in labels]


def load_xlmt(data_dir: Path, split: str, languages=None) -> Split:
    out = Split()
    for folder, code in XLMT_LANGUAGES.items():
        if languages and code not in languages:
            continue
        texts, labels = read_pair(data_dir, f"xlm-t/{folder}", split)
        out.extend(texts, labels, code)
    return out


def load_tweeteval(data_dir: Path, task: str, split: str) -> Split:
    out = Split()
    texts, labels = read_pair(data_dir, f"tweeteval/{task}", split)
    out.extend(texts, labels, task)
    return out


# TweetEval emotion (SemEval-2018 Affect): 0 anger, 1 joy, 2 optimism, 3 sadness
EMOTION_TO_SENTIMENT = {0: 0, 1: 2, 2: 2, 3: 0}


def load_emotion_as_sentiment(data_dir: Path, split: str = "train") -> Split:
    """TweetEval emotion tweets as extra English sentiment rows (anger, sadness -> negative;
    joy, optimism -> positive). There is no neutral class in this set."""
    texts, labels = read_pair(data_dir, "tweeteval/emotion", split)
    out = Split()
    out.extend(texts, [EMOTION_TO_SENTIMENT[y] for y in labels], "en-emotion")
    return out


# --------------------------------------------------------------------------- SemEval 2017
_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")


def _unescape_semeval(text: str) -> str:
    def repl(m: re.Match) -> str:
        try:
            return json.loads('"' + m.group(0) + '"')
        except ValueError:
            return m.group(0)

    text = _ESCAPES.sub(repl, text)
    text = text.replace('\\"', '"').replace("\\'", "'")
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def load_semeval(data_dir: Path, exclude_keys: set[str] = frozenset()) -> Split:
    """SemEval-2017 4A English rows not in TweetEval's val set (``text_in_tweeteval_val=0``)
    and whose :func:`dedupe_key` is not in ``exclude_keys``."""
    path = _need(data_dir / SEMEVAL_FILE)
    out = Split()
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        try:
            i_label, i_text, i_val = (header.index(c) for c in ("label", "text", "text_in_tweeteval_val"))
        except ValueError:
            raise DataError(f"{path}: unexpected columns {header}") from None
        for row in reader:
            if len(row) < len(header) or row[i_val] != "0":
                continue
            text = _unescape_semeval(row[i_text])
            if dedupe_key(text) in exclude_keys:
                continue
            out.texts.append(text)
            out.labels.append(SEMEVAL_LABELS[row[i_label]])
            out.groups.append("en-semeval")
    return out


# --------------------------------------------------------------------------- complaints
def _decode_legacy(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_complaints(data_dir: Path) -> Split:
    """Complaint set1 (airlines and telecom, 3,000 hand-labelled tweets of November 2015)."""
    out = Split()
    for name in COMPLAINT_FILES:
        path = _need(data_dir / "complaints_2015_telecom_airlines" / name)
        text = _decode_legacy(path.read_bytes())
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or not {"text", "finalLabel"} <= set(reader.fieldnames):
            raise DataError(f"{path}: expected columns text, finalLabel; got {reader.fieldnames}")
        industry = name.split("_")[0]
        for row in reader:
            label = (row.get("finalLabel") or "").strip()
            if label == "":
                continue
            out.texts.append(row["text"] or "")
            out.labels.append(int(float(label)))
            out.groups.append(industry)
    return out
