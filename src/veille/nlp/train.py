"""Reproducible training of the sentiment, complaint and abuse models.

``train(data_dir)`` does, with fixed seeds:

1. load the labelled sets (``data.py``); keep every validation tweet out of every training set
   (XLM-T English train and SemEval overlap TweetEval's sentiment val, so rows are removed by a
   loose text key, not only by file);
2. **evaluation models**: fit on the train splits only, write them to a temporary directory,
   load them with the real :class:`~veille.nlp.analyzer.Analyzer` and score the validation
   splits with :func:`~veille.nlp.evaluate.evaluate`, exactly as ``veille nlp eval`` would;
3. **shipped models**: fit again with the same settings on train + val (all of complaint set1),
   plus the agents' corrections if given, and write them to ``out_dir``;
4. measure the speed of the shipped models and write the model card.

Scikit-learn is needed here only; inference reads the ``.npz`` files with numpy.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from . import data as D
from .analyzer import (
    RECOGNISED_LANGUAGES,
    SENTIMENT_CLASSES,
    SUPPORTED_LANGUAGES,
    Analyzer,
    LanguageDetector,
    default_model_dir,
)
from .evaluate import classification_metrics, evaluate
from .features import FeatureConfig, Featurizer
from .text import for_models

TARGETS = {
    "sentiment_xlmt_mean_macro_f1": 56.0,
    "sentiment_tweeteval_macro_recall": 64.0,
    "complaint_f1": 0.75,
    "language_accuracy": 0.97,
    "posts_per_s": 10000,
    "language_posts_per_s": 100000,
}
LANGUAGE_EVAL = ("fr", "de", "it", "en", "es", "pt")
ENGLISH_EXTRA = ("en-semeval", "en-emotion")  # English sentiment sources beyond XLM-T


@dataclass
class TrainConfig:
    features: FeatureConfig = field(
        default_factory=lambda: FeatureConfig(n_bits=18, char_min=2, char_max=5, token_weight=2.5, group_weight=0.5)
    )
    seed: int = 0
    # sentiment: multinomial logistic regression, classes balanced, XLM-T rows up-weighted
    sentiment_C: float = 3.0
    sentiment_xlmt_weight: float = 3.0
    sentiment_max_iter: int = 150
    sentiment_use_emotion: bool = True  # add TweetEval emotion train (anger/sadness/joy/optimism)
    # complaint: logistic regression on the features and the sentiment logits
    complaint_C: float = 30.0
    complaint_stack_scale: float = 1.0
    complaint_holdout: float = 0.2
    complaint_class_weight: str | None = None
    complaint_cv_folds: int = 5  # folds to place the decision threshold (0/1 = keep 0.5)
    # abuse: one logistic regression head per data set (offensive, hate), abuse = max of heads
    abuse_C: float = 3.0
    # weight of one agent correction relative to one row of the public data
    correction_weight: float = 2.0
    max_iter: int = 500

    def to_dict(self) -> dict:
        out = asdict(self)
        out["features"] = self.features.to_dict()
        return out


# --------------------------------------------------------------------------- helpers
def _log_default(msg: str) -> None:
    print(f"[nlp train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _subset(split: D.Split, keep) -> D.Split:
    return D.Split([split.texts[i] for i in keep], [split.labels[i] for i in keep], [split.groups[i] for i in keep])


def _without(split: D.Split, keys: set[str]) -> D.Split:
    return _subset(split, [i for i, t in enumerate(split.texts) if D.dedupe_key(t) not in keys])


def _dedupe(split: D.Split) -> D.Split:
    """One row per tweet (by :func:`data.dedupe_key`), labelled by majority (ties: higher label)."""
    first: dict[str, int] = {}
    votes: dict[str, list[int]] = {}
    for i, t in enumerate(split.texts):
        k = D.dedupe_key(t)
        first.setdefault(k, i)
        votes.setdefault(k, []).append(split.labels[i])
    out = D.Split()
    for k, i in first.items():
        v = votes[k]
        label = max(set(v), key=lambda lab: (v.count(lab), lab))
        out.texts.append(split.texts[i])
        out.labels.append(label)
        out.groups.append(split.groups[i])
    return out


def _stratified_split(labels: list[int], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, held-out), stratified by label, deterministic for a seed."""
    rng = random.Random(seed)
    train_idx, test_idx = [], []
    for lab in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == lab]
        rng.shuffle(idx)
        k = round(len(idx) * holdout)
        test_idx += idx[:k]
        train_idx += idx[k:]
    return sorted(train_idx), sorted(test_idx)


_SENT_NAMES = {"negative": 0, "neutral": 1, "positive": 2, "neg": 0, "neu": 1, "pos": 2}


def _label(task: str, value) -> int:
    """A correction's label as the int the models train on."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if task == "sentiment" and v in _SENT_NAMES:
            return _SENT_NAMES[v]
        if v in ("true", "yes"):
            return 1
        if v in ("false", "no"):
            return 0
        value = float(v)
    value = int(value)
    allowed = (0, 1, 2) if task == "sentiment" else (0, 1)
    if value not in allowed:
        raise ValueError(f"{task} correction label must be one of {allowed}, got {value!r}")
    return value


def _extra_split(extra: dict | None, task: str) -> D.Split:
    out = D.Split()
    for text, value in (extra or {}).get(task, []) or []:
        if not isinstance(text, str) or not text.strip():
            continue
        out.texts.append(text)
        out.labels.append(_label(task, value))
        out.groups.append("correction")
    return out


class _Features:
    """Feature matrices of splits, computed once (language groups from the detector)."""

    def __init__(self, featurizer: Featurizer, detector: LanguageDetector):
        self.featurizer = featurizer
        self.detector = detector

    def __call__(self, texts: list[str]) -> sp.csr_matrix:
        if not texts:
            return sp.csr_matrix((0, self.featurizer.n_features), dtype=np.float32)
        groups = [lang for lang, _ in self.detector.detect(texts)]
        norm = [for_models(t) for t in texts]
        blocks = [self.featurizer.transform(norm[i : i + 4096], groups[i : i + 4096]) for i in range(0, len(norm), 4096)]
        X = sp.vstack(blocks, format="csr")
        X.sum_duplicates()
        return X


# --------------------------------------------------------------------------- fitting
def _fit_logreg(X, y, C: float, sample_weight=None, max_iter: int = 500, init=None):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=max_iter, tol=1e-4, warm_start=init is not None)
    if init is not None:
        model.coef_, model.intercept_ = init
        model.classes_ = np.unique(y)
    with warnings.catch_warnings():
        # the iteration cap bounds training time; the last iterations change little
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=sample_weight)
    return model


def _fit_sentiment(X, y, groups, cfg: TrainConfig, extra_mask=None, init=None):
    """Classes are balanced within each source (SemEval English on one side, XLM-T and
    corrections on the other), then XLM-T rows weigh ``sentiment_xlmt_weight`` times more."""
    semeval = np.array([g in ENGLISH_EXTRA for g in groups])
    w = np.ones(len(y))
    for part in (semeval, ~semeval):
        if part.any():
            counts = np.bincount(y[part], minlength=3).astype(float)
            counts[counts == 0] = 1.0
            w[part] = (part.sum() / (3 * counts))[y[part]]
    w[~semeval] *= cfg.sentiment_xlmt_weight
    if extra_mask is not None:
        w[extra_mask] *= cfg.correction_weight / cfg.sentiment_xlmt_weight
    model = _fit_logreg(X, y, cfg.sentiment_C, w, cfg.sentiment_max_iter, init)
    return model.coef_.T.copy(), model.intercept_.copy()  # (n_features, 3), (3,)


def _fit_complaint(X, y, sent_coef, sent_b, cfg: TrainConfig, weights=None):
    """Logistic regression on [features, sentiment logits]; the intercept is then shifted so
    that probability 0.5 sits at the F1-best threshold found by cross-validation on the
    training rows (the returned probability stays monotone in the model's score)."""
    from sklearn.linear_model import LogisticRegression

    Z = np.asarray(X @ sent_coef) + sent_b  # sentiment logits of the complaint texts
    a = cfg.complaint_stack_scale
    Xa = sp.hstack([X, sp.csr_matrix(Z * a)], format="csr")
    weights = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)

    def fit(rows):
        model = LogisticRegression(C=cfg.complaint_C, max_iter=cfg.max_iter, class_weight=cfg.complaint_class_weight)
        return model.fit(Xa[rows], y[rows], sample_weight=weights[rows])

    shift = 0.0
    if cfg.complaint_cv_folds > 1 and min(np.bincount(y, minlength=2)) >= cfg.complaint_cv_folds:
        oof = np.zeros(len(y))
        rng = np.random.default_rng(cfg.seed)
        fold = np.empty(len(y), dtype=int)
        for lab in (0, 1):
            idx = np.nonzero(y == lab)[0]
            fold[rng.permutation(idx)] = np.arange(len(idx)) % cfg.complaint_cv_folds
        for k in range(cfg.complaint_cv_folds):
            model = fit(np.nonzero(fold != k)[0])
            oof[fold == k] = model.decision_function(Xa[fold == k])
        best_f1, best_t = -1.0, 0.0
        for t in np.quantile(oof, np.linspace(0.3, 0.95, 131)):
            pred = oof >= t
            tp = float(np.sum(pred & (y == 1)))
            f1 = 2 * tp / (pred.sum() + (y == 1).sum()) if tp else 0.0
            if f1 > best_f1:
                best_f1, best_t = f1, float(t)
        shift = -best_t
    model = fit(np.arange(len(y)))
    n = X.shape[1]
    coef = model.coef_.ravel()
    return coef[:n].reshape(-1, 1), model.intercept_.copy() + shift, (coef[n:] * a).reshape(3, 1)


def _fit_binary(X, y, C: float, cfg: TrainConfig, weights=None):
    model = _fit_logreg(X, y, C, weights, cfg.max_iter)
    return model.coef_.ravel(), float(model.intercept_[0])


def _write_models(out_dir: Path, cfg: TrainConfig, models: dict, extra_meta: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    import py3langid

    sent_coef, sent_b = models["sentiment"]
    np.savez_compressed(
        out_dir / "sentiment.npz",
        coef=sent_coef.astype(np.float16),
        intercept=sent_b.astype(np.float32),
        classes=np.array(SENTIMENT_CLASSES),
        temperature=np.array(1.0, dtype=np.float32),
    )
    c_coef, c_b, c_stack = models["complaint"]
    np.savez_compressed(
        out_dir / "complaint.npz",
        coef=c_coef.astype(np.float16),
        intercept=c_b.astype(np.float32),
        stack_coef=c_stack.astype(np.float32),
    )
    heads = models["abuse"]
    np.savez_compressed(
        out_dir / "abuse.npz",
        coef=np.stack([heads[h][0] for h in ("offensive", "hate")], axis=1).astype(np.float16),
        intercept=np.array([heads[h][1] for h in ("offensive", "hate")], dtype=np.float32),
        heads=np.array(["offensive", "hate"]),
    )
    meta = {
        "format": 1,
        "features": cfg.features.to_dict(),
        "language": {
            "supported": list(SUPPORTED_LANGUAGES),
            "recognised": list(RECOGNISED_LANGUAGES),
            "min_letters": 4,
            "min_probability": 0.0,
        },
        "py3langid_version": getattr(py3langid, "__version__", "unknown"),
        "train_config": cfg.to_dict(),
        **extra_meta,
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- main entry
def train(
    data_dir: Path,
    out_dir: Path | None = None,
    extra_examples: dict[str, list[tuple[str, str | int]]] | None = None,
    card_path: Path | None = None,
    *,
    config: TrainConfig | None = None,
    log: Callable[[str], None] | None = _log_default,
    measure_speed: bool = True,
) -> dict:
    """Train, evaluate and write all models; returns the metrics that went into the card.

    ``extra_examples`` maps "sentiment", "complaint" (and "abuse") to ``(text, label)`` pairs
    (agents' corrections); they are added to both the evaluation and the shipped training sets
    with weight ``TrainConfig.correction_weight``. ``card_path`` None writes no card.
    """
    t0 = time.perf_counter()
    log = log or (lambda _msg: None)
    cfg = config or TrainConfig()
    data_dir = Path(data_dir)
    out_dir = Path(str(default_model_dir())) if out_dir is None else Path(out_dir)

    # ---------------------------------------------------------------- data
    log(f"loading data from {data_dir}")
    x_train = D.load_xlmt(data_dir, "train")
    x_val = D.load_xlmt(data_dir, "val")
    te_val = D.load_tweeteval(data_dir, "sentiment", "val")
    off_train = D.load_tweeteval(data_dir, "offensive", "train")
    off_val = D.load_tweeteval(data_dir, "offensive", "val")
    hate_train = D.load_tweeteval(data_dir, "hate", "train")
    hate_val = D.load_tweeteval(data_dir, "hate", "val")
    complaints_raw = D.load_complaints(data_dir)
    complaints = _dedupe(complaints_raw)  # set1 repeats some tweets (contest spam) up to 191 times
    c_tr_idx, c_te_idx = _stratified_split(complaints.labels, cfg.complaint_holdout, cfg.seed)
    c_train, c_test = _subset(complaints, c_tr_idx), _subset(complaints, c_te_idx)

    sent_eval_keys = {D.dedupe_key(t) for t in x_val.texts + te_val.texts}
    semeval_all = D.load_semeval(data_dir)  # minus TweetEval val (by its flag column)
    semeval = _without(semeval_all, sent_eval_keys)
    x_train_clean = _without(x_train, sent_eval_keys)
    emotion = (
        _without(D.load_emotion_as_sentiment(data_dir), sent_eval_keys)
        if cfg.sentiment_use_emotion else D.Split()
    )
    off_train = _without(off_train, {D.dedupe_key(t) for t in off_val.texts})
    hate_train = _without(hate_train, {D.dedupe_key(t) for t in hate_val.texts})
    c_train = _without(c_train, {D.dedupe_key(t) for t in c_test.texts})
    extra = {task: _extra_split(extra_examples, task) for task in ("sentiment", "complaint", "abuse")}
    counts = {
        "xlmt_train": len(x_train),
        "xlmt_train_after_removing_val_overlap": len(x_train_clean),
        "xlmt_val": len(x_val),
        "semeval_train_rows": len(semeval),
        "emotion_train_rows": len(emotion),
        "tweeteval_sentiment_val": len(te_val),
        "complaint_set1": len(complaints_raw),
        "complaint_set1_unique": len(complaints),
        "complaint_set1_unique_complaints": sum(complaints.labels),
        "complaint_train": len(c_train),
        "complaint_heldout": len(c_test),
        "offensive_train": len(off_train),
        "offensive_val": len(off_val),
        "hate_train": len(hate_train),
        "hate_val": len(hate_val),
        "corrections": {k: len(v) for k, v in extra.items()},
    }
    log(f"data: {json.dumps(counts)}")

    # ---------------------------------------------------------------- features
    featurizer = Featurizer(cfg.features)
    detector = LanguageDetector()
    feats = _Features(featurizer, detector)
    log("features")
    F = {
        "x_train": feats(x_train_clean.texts),
        "semeval": feats(semeval.texts),
        "emotion": feats(emotion.texts),
        "x_val": feats(x_val.texts),
        "c_train": feats(c_train.texts),
        "c_test": feats(c_test.texts),
        "off_train": feats(off_train.texts),
        "off_val": feats(off_val.texts),
        "hate_train": feats(hate_train.texts),
        "hate_val": feats(hate_val.texts),
        "ex_sent": feats(extra["sentiment"].texts),
        "ex_comp": feats(extra["complaint"].texts),
        "ex_abuse": feats(extra["abuse"].texts),
    }
    # TweetEval val tweets that are not also XLM-T val tweets (for the shipped sentiment model)
    te_extra = D.Split()
    xval_keys = {D.dedupe_key(x) for x in x_val.texts}
    for t, y in zip(te_val.texts, te_val.labels):
        if D.dedupe_key(t) not in xval_keys:
            te_extra.texts.append(t)
            te_extra.labels.append(y)
            te_extra.groups.append("en-semeval")
    F["te_val_extra"] = feats(te_extra.texts)

    def fit_all(sent_parts, comp_parts, off_parts, hate_parts, init=None):
        Xs = sp.vstack([F[k] for k, _ in sent_parts], format="csr")
        ys = np.concatenate([np.asarray(s.labels, dtype=np.int64) for _, s in sent_parts])
        gs = [g for _, s in sent_parts for g in s.groups]
        ex_mask = np.array([g == "correction" for g in gs])
        log(f"sentiment: {Xs.shape[0]} rows")
        sent = _fit_sentiment(Xs, ys, gs, cfg, ex_mask, init)

        def stack(parts, weight_of_extra):
            X = sp.vstack([F[k] for k, _ in parts], format="csr")
            y = np.concatenate([np.asarray(s.labels, dtype=np.int64) for _, s in parts])
            w = np.concatenate([np.full(len(s), weight_of_extra if s.groups[:1] == ["correction"] else 1.0) for _, s in parts])
            return X, y, w

        Xc, yc, wc = stack(comp_parts, cfg.correction_weight)
        log(f"complaint: {Xc.shape[0]} rows")
        comp = _fit_complaint(Xc, yc, sent[0], sent[1], cfg, wc)
        Xo, yo, wo = stack(off_parts, cfg.correction_weight)
        Xh, yh, wh = stack(hate_parts, cfg.correction_weight)
        log(f"abuse: {Xo.shape[0]} offensive rows, {Xh.shape[0]} hate rows")
        abuse = {
            "offensive": _fit_binary(Xo, yo, cfg.abuse_C, cfg, wo),
            "hate": _fit_binary(Xh, yh, cfg.abuse_C, cfg, wh),
        }
        return {"sentiment": sent, "complaint": comp, "abuse": abuse}

    def nonempty(parts):
        return [(k, s) for k, s in parts if len(s)]

    # ---------------------------------------------------------------- evaluation models
    log("fitting evaluation models (train splits only)")
    eval_models = fit_all(
        nonempty([
            ("x_train", x_train_clean), ("semeval", semeval), ("emotion", emotion), ("ex_sent", extra["sentiment"]),
        ]),
        nonempty([("c_train", c_train), ("ex_comp", extra["complaint"])]),
        nonempty([("off_train", off_train), ("ex_abuse", extra["abuse"])]),
        nonempty([("hate_train", hate_train)]),
    )
    tmp = Path(tempfile.mkdtemp(prefix="veille-nlp-eval-"))
    try:
        _write_models(tmp, cfg, eval_models, {"purpose": "evaluation (train splits only)"})
        analyzer = Analyzer(tmp)
        metrics = _evaluate_all(analyzer, x_val, te_val, c_test, off_val, hate_val, cfg, data_dir, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ---------------------------------------------------------------- shipped models
    log("fitting shipped models (train + val)")
    c_all = D.Split(c_train.texts + c_test.texts, c_train.labels + c_test.labels, c_train.groups + c_test.groups)
    F["c_all"] = sp.vstack([F["c_train"], F["c_test"]], format="csr")
    off_all = D.Split(off_train.texts + off_val.texts, off_train.labels + off_val.labels, off_train.groups + off_val.groups)
    F["off_all"] = sp.vstack([F["off_train"], F["off_val"]], format="csr")
    hate_all = D.Split(hate_train.texts + hate_val.texts, hate_train.labels + hate_val.labels, hate_train.groups + hate_val.groups)
    F["hate_all"] = sp.vstack([F["hate_train"], F["hate_val"]], format="csr")
    x_val_groups = D.Split(x_val.texts, x_val.labels, x_val.groups)
    sent_init = (eval_models["sentiment"][0].T.copy(), eval_models["sentiment"][1].copy())
    ship_models = fit_all(
        nonempty([
            ("x_train", x_train_clean), ("x_val", x_val_groups), ("semeval", semeval),
            ("emotion", emotion), ("te_val_extra", te_extra), ("ex_sent", extra["sentiment"]),
        ]),
        nonempty([("c_all", c_all), ("ex_comp", extra["complaint"])]),
        nonempty([("off_all", off_all), ("ex_abuse", extra["abuse"])]),
        nonempty([("hate_all", hate_all)]),
        init=sent_init,
    )
    metrics["data"] = counts
    metrics["config"] = cfg.to_dict()
    metrics["trained_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    _write_models(
        out_dir, cfg, ship_models,
        {"purpose": "shipped (train + val)", "trained_at": metrics["trained_at"], "data": counts},
    )
    log(f"model files written to {out_dir}")

    # ---------------------------------------------------------------- speed and card
    shipped = Analyzer(out_dir)
    metrics["model_version"] = shipped.model_version
    metrics["model_files"] = {
        p.name: p.stat().st_size for p in sorted(out_dir.iterdir()) if p.name in ("meta.json", "sentiment.npz", "complaint.npz", "abuse.npz")
    }
    if measure_speed:
        from .bench import run as bench_run
        from .bench import run_in_subprocess

        log("measuring speed")
        try:  # a fresh process: the training process's memory and caches would skew it
            metrics["speed"] = run_in_subprocess(data_dir, out_dir, n=20000, batch=1000)
            metrics["speed_batch_5000"] = run_in_subprocess(data_dir, out_dir, n=20000, batch=5000)
        except Exception as exc:  # noqa: BLE001 - fall back to measuring here
            log(f"speed in a subprocess failed ({exc}); measuring in this process")
            metrics["speed"] = bench_run(data_dir, n=20000, batch=1000, analyzer=shipped)
    metrics["train_seconds"] = round(time.perf_counter() - t0, 1)
    metrics["summary"] = _summary(metrics)
    if card_path is not None:
        from .card import render_card

        card_path = Path(card_path)
        card_path.parent.mkdir(parents=True, exist_ok=True)
        card_path.write_text(render_card(metrics), encoding="utf-8")
        log(f"model card written to {card_path}")
    log(f"done in {metrics['train_seconds']} s")
    return metrics


# --------------------------------------------------------------------------- evaluation
def _pct(x: float) -> float:
    return round(100 * x, 2)


def _evaluate_all(analyzer, x_val, te_val, c_test, off_val, hate_val, cfg, data_dir, log) -> dict:
    log("evaluating on validation splits")
    out: dict = {}
    # sentiment, XLM-T val per language
    per_lang = {}
    for code in D.XLMT_LANGUAGES.values():
        idx = [i for i, g in enumerate(x_val.groups) if g == code]
        m = evaluate("sentiment", [x_val.texts[i] for i in idx], [str(x_val.labels[i]) for i in idx], analyzer)
        per_lang[code] = m
    out["sentiment_xlmt_val"] = per_lang
    out["sentiment_xlmt_mean_macro_f1"] = round(float(np.mean([_pct(m["macro_f1"]) for m in per_lang.values()])), 2)
    out["sentiment_tweeteval_val"] = evaluate("sentiment", te_val.texts, [str(y) for y in te_val.labels], analyzer)
    # complaint, held-out part of set1 (stratified, seed)
    out["complaint_heldout"] = evaluate("complaint", c_test.texts, [str(y) for y in c_test.labels], analyzer)
    # abuse (max of the two heads), and each head on its own data
    out["abuse_offensive_val"] = evaluate("abuse", off_val.texts, [str(y) for y in off_val.labels], analyzer)
    out["abuse_hate_val"] = evaluate("abuse", hate_val.texts, [str(y) for y in hate_val.labels], analyzer)
    for name, split, col in (("offensive", off_val, 0), ("hate", hate_val, 1)):
        heads = analyzer.scores(split.texts)["abuse_heads"][:, col]
        pred = ["1" if p >= 0.5 else "0" for p in heads]
        out[f"abuse_head_{name}_val"] = classification_metrics([str(y) for y in split.labels], pred, ["0", "1"])
    # language, XLM-T val texts of fr/de/it/en/es/pt labelled with their data set's language
    texts, labels = [], []
    for code in D.XLMT_LANGUAGES.values():
        if code in LANGUAGE_EVAL:
            idx = [i for i, g in enumerate(x_val.groups) if g == code]
            texts += [x_val.texts[i] for i in idx]
            labels += [code] * len(idx)
    out["language_xlmt_val"] = evaluate("language", texts, labels, analyzer)
    return out


def _summary(metrics: dict) -> dict:
    s = {
        "sentiment XLM-T val mean macro-F1": f"{metrics['sentiment_xlmt_mean_macro_f1']:.2f} (target >= 56)",
        "sentiment TweetEval val macro-recall": f"{_pct(metrics['sentiment_tweeteval_val']['macro_recall']):.2f} (target >= 64)",
        "complaint held-out F1 (complaint)": f"{metrics['complaint_heldout']['f1_positive']:.3f} (target >= 0.75)",
        "language accuracy (XLM-T val, 6 langs)": f"{metrics['language_xlmt_val']['accuracy']:.4f} (target >= 0.97)",
        "abuse offensive val macro-F1": f"{_pct(metrics['abuse_offensive_val']['macro_f1']):.2f}",
        "abuse hate val macro-F1": f"{_pct(metrics['abuse_hate_val']['macro_f1']):.2f}",
    }
    if "speed" in metrics:
        sp_ = metrics["speed"]
        s["all four models (posts/s, 1 core)"] = f"{sp_['posts_per_s']} (target >= 10000)"
        s["language only (posts/s)"] = f"{sp_['language_posts_per_s']} (target >= 100000)"
        s["py3langid classify (posts/s)"] = str(sp_["py3langid_classify_posts_per_s"])
        s["peak RSS (MB)"] = str(sp_["peak_rss_mb"])
    s["model version"] = metrics.get("model_version", "")
    s["train seconds"] = str(metrics.get("train_seconds", ""))
    return s
