"""End-to-end training on a tiny data folder laid out like shared/data (made up here)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="training needs scikit-learn (the 'train' extra)")

from veille.nlp.analyzer import Analyzer  # noqa: E402
from veille.nlp.data import XLMT_LANGUAGES  # noqa: E402
from veille.nlp.features import FeatureConfig  # noqa: E402
from veille.nlp.train import TrainConfig, train  # noqa: E402


def _small_config():
    # a small hashing space keeps this test fast; the real run uses the defaults
    return TrainConfig(
        features=FeatureConfig(n_bits=14, token_weight=2.5, group_weight=0.5),
        max_iter=50, sentiment_max_iter=50, complaint_cv_folds=2,
    )


POS = ["love it", "great day", "thank you so much", "awesome news", "so happy today"]
NEG = ["hate this", "awful service", "worst day ever", "so angry now", "terrible delay again"]
NEU = ["the meeting is at noon", "new schedule posted", "train leaves at nine", "report attached", "see the list"]


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        lab = i % 3
        words = (NEG, NEU, POS)[lab]
        texts.append(f"{words[rng.integers(len(words))]} {words[rng.integers(len(words))]} #{i}")
        labels.append(lab)
    return texts, labels


def _write_pair(folder, split, texts, labels, trailing_newline=False):
    folder.mkdir(parents=True, exist_ok=True)
    end = "\n" if trailing_newline else ""
    (folder / f"{split}_text.txt").write_text("\n".join(texts) + end, encoding="utf-8")
    (folder / f"{split}_labels.txt").write_text("\n".join(map(str, labels)) + end, encoding="utf-8")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for k, folder in enumerate(XLMT_LANGUAGES):
        for split, n in (("train", 30), ("val", 9)):
            texts, labels = _rows(n, k * 10 + len(split))
            _write_pair(root / "xlm-t" / folder, split, texts, labels)
    texts, labels = _rows(12, 99)
    _write_pair(root / "tweeteval" / "sentiment", "val", texts, labels, trailing_newline=True)
    for task in ("offensive", "hate"):
        for split, n in (("train", 40), ("val", 10)):
            texts = [("you stupid idiot " if i % 2 else "nice weather ") + str(i) for i in range(n)]
            _write_pair(root / "tweeteval" / task, split, texts, [i % 2 for i in range(n)], True)
    emo_texts = [("so angry at this", "what a joyful day", "hope it gets better", "so sad today")[i % 4] + f" {i}" for i in range(16)]
    _write_pair(root / "tweeteval" / "emotion", "train", emo_texts, [i % 4 for i in range(16)], True)
    sem = root / "semeval2017_task4A_english"
    sem.mkdir()
    texts, labels = _rows(60, 7)
    names = ["negative", "neutral", "positive"]
    lines = ["source_file\ttweet_id\tlabel\ttext\ttext_in_tweeteval_val\ttext_in_tweeteval_test"]
    lines += [f"f\t{i}\t{names[y]}\t{t} \\u2019\t0\t0" for i, (t, y) in enumerate(zip(texts, labels))]
    with gzip.open(sem / "semeval2017_task4A_english_2013_2016.tsv.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    comp = root / "complaints_2015_telecom_airlines"
    comp.mkdir()
    for name in ("airlines_set1_finalLabels.csv", "telecom_set1_finalLabels.csv"):
        rows = ["created_at,text,finalLabel"]
        for i in range(40):
            text = f"@brand my flight {i} was cancelled and nobody helps" if i % 3 == 0 else f"win a prize {i} today"
            rows.append(f"Mon Nov 09 01:25:04 +0000 2015,\"{text}\",{1.0 if i % 3 == 0 else 0.0}")
        rows.append("Mon Nov 09 01:25:04 +0000 2015,\"caf\xe9 cr\xe8me\",0.0")  # latin-1 byte
        (comp / name).write_bytes("\r\n".join(rows).encode("cp1252"))
    return root


def test_train_end_to_end(data_dir, tmp_path):
    out = tmp_path / "models"
    card = tmp_path / "docs" / "models.md"
    extra = {
        "sentiment": [("absolutely dreadful customer care", "negative"), ("super merci", 2)],
        "complaint": [("still no refund after 3 weeks", 1), ("nice day", "0")],
    }
    metrics = train(
        data_dir, out_dir=out, extra_examples=extra, card_path=card,
        config=_small_config(), log=None, measure_speed=False,
    )
    for name in ("meta.json", "sentiment.npz", "complaint.npz", "abuse.npz"):
        assert (out / name).is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == 1 and meta["features"]["n_bits"] == 14
    assert metrics["data"]["corrections"] == {"sentiment": 2, "complaint": 2, "abuse": 0}
    assert set(metrics["sentiment_xlmt_val"]) == set(XLMT_LANGUAGES.values())
    for key in ("sentiment_xlmt_mean_macro_f1", "sentiment_tweeteval_val", "complaint_heldout", "language_xlmt_val"):
        assert key in metrics
    text = card.read_text()
    assert "Known limits" in text and "no licence stated" in text and "Swiss German" in text
    analyzer = Analyzer(out)
    result = analyzer.analyze(["love it, great day", "worst day ever, awful service"])
    assert result[0].sentiment == "positive" and result[1].sentiment == "negative"
    assert analyzer.model_version == metrics["model_version"]


def test_bad_correction_label_is_refused(data_dir, tmp_path):
    with pytest.raises(ValueError, match="label"):
        train(
            data_dir, out_dir=tmp_path / "m", extra_examples={"sentiment": [("text", 5)]},
            config=_small_config(), log=None, measure_speed=False,
        )
