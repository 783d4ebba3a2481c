"""Metrics, line reading and the eval command."""

from __future__ import annotations

import argparse
import json

import pytest

from veille.nlp import cli
from veille.nlp.evaluate import EvalInputError, classification_metrics, evaluate, read_lines


def test_metrics_match_hand_computation():
    gold = ["negative", "negative", "neutral", "neutral", "positive", "positive"]
    pred = ["negative", "neutral", "neutral", "positive", "positive", "positive"]
    m = classification_metrics(gold, pred, ["negative", "neutral", "positive"])
    # negative: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3
    # neutral:  tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    # positive: tp 2, fp 1, fn 0 -> P 2/3, R 1, F1 4/5
    pc = m["per_class"]
    assert pc["negative"]["precision"] == pytest.approx(1.0)
    assert pc["negative"]["recall"] == pytest.approx(0.5)
    assert pc["negative"]["f1"] == pytest.approx(2 / 3)
    assert pc["neutral"]["precision"] == pytest.approx(0.5)
    assert pc["neutral"]["recall"] == pytest.approx(0.5)
    assert pc["neutral"]["f1"] == pytest.approx(0.5)
    assert pc["positive"]["precision"] == pytest.approx(2 / 3)
    assert pc["positive"]["recall"] == pytest.approx(1.0)
    assert pc["positive"]["f1"] == pytest.approx(0.8)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["macro_recall"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)
    assert pc["positive"]["support"] == 2


def test_class_never_predicted_scores_zero():
    m = classification_metrics(["0", "1", "1"], ["0", "0", "0"], ["0", "1"])
    assert m["per_class"]["1"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert m["per_class"]["0"]["precision"] == pytest.approx(1 / 3)


def test_read_lines_with_and_without_trailing_newline(tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    c = tmp_path / "c.txt"
    a.write_bytes(b"one\ntwo\nthree")
    b.write_bytes(b"one\ntwo\nthree\n")
    c.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\nthree\r\n")
    assert read_lines(a) == read_lines(b) == read_lines(c) == ["one", "two", "three"]


def test_read_lines_keeps_empty_lines_and_inner_carriage_returns(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("first\n\nthird has a \r inside\u2028and more\n".encode())
    assert read_lines(p) == ["first", "", "third has a \r inside\u2028and more"]


def test_read_lines_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    assert read_lines(p) == []


def test_read_lines_errors(tmp_path):
    with pytest.raises(EvalInputError, match="not found"):
        read_lines(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nnot \xff utf8\n")
    with pytest.raises(EvalInputError, match="line 2"):
        read_lines(bad)


def test_evaluate_count_mismatch_names_both_counts(analyzer):
    with pytest.raises(EvalInputError) as info:
        evaluate("sentiment", ["a", "b", "c"], ["0", "1"], analyzer)
    assert "3" in str(info.value) and "2" in str(info.value)


def test_evaluate_rejects_bad_labels(analyzer):
    with pytest.raises(EvalInputError, match="line 2"):
        evaluate("sentiment", ["a", "b"], ["0", "7"], analyzer)
    with pytest.raises(EvalInputError, match="0 or 1"):
        evaluate("complaint", ["a"], ["yes"], analyzer)


def _parser():
    parser = argparse.ArgumentParser(prog="veille")
    cli.register(parser.add_subparsers(dest="command"))
    return parser


def _run(argv):
    args = _parser().parse_args(argv)
    return args.func(args)


def test_eval_command_json(tmp_path, capsys):
    text = tmp_path / "text.txt"
    labels = tmp_path / "labels.txt"
    text.write_text("I love it, thank you!\nThis is awful, I hate it.\nThe meeting is at 3pm", encoding="utf-8")
    labels.write_text("2\n0\n1", encoding="utf-8")  # no trailing newline
    assert _run(["nlp", "eval", "--task", "sentiment", "--text", str(text), "--labels", str(labels), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("n", "accuracy", "macro_f1", "macro_recall", "per_class", "posts_per_s"):
        assert key in out
    assert out["n"] == 3
    assert set(out["per_class"]) == {"negative", "neutral", "positive"}
    assert set(out["per_class"]["negative"]) >= {"precision", "recall", "f1"}


def test_eval_command_text_report(tmp_path, capsys):
    text = tmp_path / "text.txt"
    labels = tmp_path / "labels.txt"
    text.write_text("Bonjour tout le monde, il fait beau aujourd'hui\nGuten Morgen, wie geht es dir heute?\n")
    labels.write_text("fr\nde\n")
    assert _run(["nlp", "eval", "--task", "language", "--text", str(text), "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro_f1" in out and "posts_per_s" in out


def test_eval_command_line_count_mismatch(tmp_path, capsys):
    text = tmp_path / "text.txt"
    labels = tmp_path / "labels.txt"
    text.write_text("a\nb\nc\n")
    labels.write_text("0\n1")
    code = _run(["nlp", "eval", "--task", "abuse", "--text", str(text), "--labels", str(labels)])
    err = capsys.readouterr().err
    assert code != 0
    assert "3" in err and "2" in err and "mismatch" in err
    assert "Traceback" not in err


def test_eval_command_missing_file(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("0\n")
    code = _run(["nlp", "eval", "--task", "complaint", "--text", str(tmp_path / "nope.txt"), "--labels", str(labels)])
    err = capsys.readouterr().err
    assert code != 0
    assert "not found" in err and "nope.txt" in err
