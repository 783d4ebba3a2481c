"""Language, sentiment, complaint and abuse for batches of posts.

``get_analyzer().analyze(texts)`` is what ingest calls on every post. One call does:

1. language: py3langid's model run over the whole batch at once (``langid_batch``), restricted
   to the languages we recognise; ``und`` for texts with too few letters or no clear winner;
2. one shared feature extraction (``features.Featurizer``) for the other three models;
3. one sparse x dense product with the weights of all three linear models side by side;
4. softmax (sentiment) and logistic (complaint, abuse) on the columns.

Model files live in ``veille/nlp/model_files/`` (numpy ``.npz`` and ``meta.json``, no pickle)
and are produced by ``veille nlp train``. Inference needs numpy, scipy and py3langid only.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from . import text as textmod
from .features import FeatureConfig, Featurizer
from .langid_batch import encode_like_py3langid, get_identifier

SUPPORTED_LANGUAGES: tuple[str, ...] = ("fr", "de", "it", "en")
# Also recognised (sentiment is trained on them); anything else is "und".
RECOGNISED_LANGUAGES: tuple[str, ...] = ("fr", "de", "it", "en", "es", "pt", "ar", "hi")
# Scored too, but reported as "und": other scripts would otherwise be forced onto one of ours.
DECOY_LANGUAGES: tuple[str, ...] = ("ru", "el", "he", "th", "ja", "zh", "ko")
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
MODEL_FILES = ("meta.json", "sentiment.npz", "complaint.npz", "abuse.npz")
BATCH = 1024  # texts per feature-extraction chunk (keeps the working set in cache)

def _letters_regex(k: int) -> re.Pattern:
    # k letters (any script) anywhere in the text; search stops at the k-th one
    return re.compile(r"(?:[^\W\d_][\W\d_]*+){" + str(k) + "}")


class ModelFilesMissing(RuntimeError):
    """The trained model files are not there; ``veille nlp train`` makes them."""


@dataclass(slots=True)
class Analysis:
    language: str  # ISO 639-1 code among RECOGNISED_LANGUAGES, or "und"
    language_score: float  # confidence 0..1
    sentiment: str  # "negative" | "neutral" | "positive"
    sentiment_score: float  # -1.0 (very negative) .. +1.0 (very positive)
    complaint: float  # probability 0..1 that the post is a complaint / needs care
    abuse: float  # probability 0..1 of offensive/hateful content


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def default_model_dir():
    """The package's model directory (a Traversable; a real path in a normal install)."""
    return resources.files("veille.nlp").joinpath("model_files")


class LanguageDetector:
    """Batch language detection on top of :class:`BatchLanguageIdentifier`."""

    def __init__(self, min_letters: int = 4, min_probability: float = 0.0):
        self.min_letters = min_letters
        self.min_probability = min_probability
        self._enough_letters = _letters_regex(min_letters).search
        self.identifier = get_identifier(RECOGNISED_LANGUAGES + DECOY_LANGUAGES)
        self._labels_or_und = [lab if lab in RECOGNISED_LANGUAGES else "und" for lab in self.identifier.labels]

    def detect(self, texts: Sequence[object]) -> list[tuple[str, float]]:
        return self.detect_cleaned([textmod.for_language(t) for t in texts])

    def detect_cleaned(self, cleaned: Sequence[str]) -> list[tuple[str, float]]:
        """Like :meth:`detect` for texts already passed through ``text.for_language``."""
        result: list[tuple[str, float]] = [("und", 0.0)] * len(cleaned)
        enough = self._enough_letters
        todo = [i for i, t in enumerate(cleaned) if enough(t)]
        if not todo:
            return result
        probs = self.identifier.probabilities([encode_like_py3langid(cleaned[i]) for i in todo])
        best = probs.argmax(axis=1)
        conf = np.round(probs[np.arange(len(todo)), best], 4).tolist()
        labels = self._labels_or_und
        for i, b, c in zip(todo, best.tolist(), conf):
            lab = labels[b]
            if lab == "und":  # another script: keep how sure we are it is not one of ours
                result[i] = ("und", c)
            elif c >= self.min_probability:
                result[i] = (lab, c)
        return result


class Analyzer:
    """All four models, loaded once. Thread-safe for concurrent ``analyze`` calls."""

    def __init__(self, model_dir=None):
        model_dir = default_model_dir() if model_dir is None else model_dir
        if isinstance(model_dir, str):
            model_dir = Path(model_dir)
        blobs = {}
        for name in MODEL_FILES:
            ref = model_dir.joinpath(name)
            try:
                blobs[name] = ref.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise ModelFilesMissing(
                    f"nlp model file {name!r} not found in {model_dir}; run `veille nlp train --data DIR`"
                ) from None
        digest = hashlib.sha256()
        for name in MODEL_FILES:
            digest.update(name.encode() + b"\0" + blobs[name] + b"\0")
        meta = json.loads(blobs["meta.json"])
        digest.update(("py3langid-" + str(meta.get("py3langid_version", ""))).encode())
        self.meta = meta
        self.model_version: str = "nlp-" + digest.hexdigest()[:12]

        self.featurizer = Featurizer(FeatureConfig.from_dict(meta["features"]))
        lang_cfg = meta.get("language", {})
        self.languages = LanguageDetector(
            min_letters=int(lang_cfg.get("min_letters", 4)),
            min_probability=float(lang_cfg.get("min_probability", 0.0)),
        )

        arrays = {}
        for task in ("sentiment", "complaint", "abuse"):
            with np.load(io.BytesIO(blobs[f"{task}.npz"]), allow_pickle=False) as npz:
                arrays[task] = {k: npz[k] for k in npz.files}
        n_feat = self.featurizer.n_features
        for task, arr in arrays.items():
            if arr["coef"].shape[0] != n_feat:
                raise ValueError(f"{task}.npz has {arr['coef'].shape[0]} features, expected {n_feat}")
        # One weight matrix for all heads: columns [sentiment x3 | complaint x1 | abuse x k].
        self._k_sent = arrays["sentiment"]["coef"].shape[1]
        self._k_comp = arrays["complaint"]["coef"].shape[1]
        self._k_abuse = arrays["abuse"]["coef"].shape[1]
        self._weights = np.ascontiguousarray(
            np.hstack([arrays[t]["coef"].astype(np.float32) for t in ("sentiment", "complaint", "abuse")])
        )
        self._bias = np.concatenate(
            [arrays[t]["intercept"].astype(np.float32) for t in ("sentiment", "complaint", "abuse")]
        )
        # complaint may also read the sentiment logits (stacking): logit += sent_logits @ stack
        stack = arrays["complaint"].get("stack_coef")
        self._comp_stack = None if stack is None else stack.astype(np.float32).reshape(self._k_sent, self._k_comp)
        self._sent_temperature = float(arrays["sentiment"].get("temperature", np.array(1.0)))

    # ------------------------------------------------------------------ public API
    def detect_languages(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(language, confidence) for each text; "und" when it cannot be told."""
        return self.languages.detect(list(texts))

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        """Language, sentiment, complaint and abuse for each text of the batch."""
        if not len(texts):
            return []
        views = [textmod.both_views(t) for t in texts]
        langs = self.languages.detect_cleaned([v[0] for v in views])
        scores = self._scores([v[1] for v in views], [lang for lang, _ in langs])
        return [
            Analysis(lang, lscore, label, sscore, comp, abuse)
            for (lang, lscore), label, sscore, comp, abuse in zip(
                langs,
                scores["sentiment_label"],
                scores["sentiment_score"].tolist(),
                scores["complaint"].tolist(),
                scores["abuse"].tolist(),
            )
        ]

    def scores(self, texts: Sequence[object], languages: Sequence[str] | None = None) -> dict:
        """Model outputs as arrays (used by ``analyze``, evaluation and the benchmark).
        ``languages`` (as ``detect_languages`` gives them) are detected when not given."""
        if languages is None and self.featurizer.config.group_weight:
            languages = [lang for lang, _ in self.languages.detect(texts)]
        return self._scores([textmod.for_models(t) for t in texts], languages)

    def _scores(self, norm: list[str], languages: Sequence[str] | None) -> dict:
        n = len(norm)
        raw = np.empty((n, self._weights.shape[1]), dtype=np.float32)
        for lo in range(0, n, BATCH):
            groups = None if languages is None else languages[lo : lo + BATCH]
            X = self.featurizer.transform(norm[lo : lo + BATCH], groups)
            raw[lo : lo + BATCH] = X @ self._weights
        raw += self._bias
        ks, kc = self._k_sent, self._k_comp
        sent_logits = raw[:, :ks]
        comp_logit = raw[:, ks : ks + kc]
        if self._comp_stack is not None:
            comp_logit = comp_logit + sent_logits @ self._comp_stack
        abuse_logits = raw[:, ks + kc :]
        probs = _softmax(sent_logits.astype(np.float64) / self._sent_temperature)
        empty = np.fromiter((not t for t in norm), dtype=bool, count=n)
        if empty.any():  # nothing to read: neutral, no complaint, no abuse
            probs[empty] = (0.0, 1.0, 0.0)
        complaint = _sigmoid(comp_logit[:, 0].astype(np.float64))
        abuse = _sigmoid(abuse_logits.astype(np.float64)).max(axis=1)
        complaint[empty] = 0.0
        abuse[empty] = 0.0
        label_idx = probs.argmax(axis=1)
        return {
            "sentiment_probs": probs,
            "sentiment_label": [SENTIMENT_CLASSES[j] for j in label_idx.tolist()],
            "sentiment_score": np.round(probs[:, 2] - probs[:, 0], 4),
            "complaint": np.round(complaint, 4),
            "abuse": np.round(abuse, 4),
            "abuse_heads": _sigmoid(abuse_logits.astype(np.float64)),
        }


_LOCK = threading.Lock()
_ANALYZER: Analyzer | None = None


def get_analyzer() -> Analyzer:
    """The process-wide analyzer, loaded on first use from the package's model files."""
    global _ANALYZER
    if _ANALYZER is None:
        with _LOCK:
            if _ANALYZER is None:
                _ANALYZER = Analyzer()
    return _ANALYZER


def reset_analyzer() -> None:
    """Forget the cached analyzer (after retraining in the same process)."""
    global _ANALYZER
    with _LOCK:
        _ANALYZER = None
