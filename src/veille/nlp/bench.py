"""Throughput of the nlp models on one core (``python bench/nlp.py``, ``veille bench nlp``).

Measures, in one process and on the same texts:

* all four models together (``Analyzer.analyze``) in batches: posts per second;
* language alone (``Analyzer.detect_languages``, the vectorised py3langid walk);
* py3langid's own ``classify``, one text at a time, restricted to the same languages
  (the baseline), and the ratio of the two;
* model load time and peak resident memory of the process.

Texts are real tweets from ``--data`` (XLM-T, TweetEval, complaint data) or, without data,
generated sentences in fr / de / it / en.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

_WORDS = {
    "fr": "le la les un une de du et mais je tu il nous vous ils service client commande livraison "
    "merci bonjour problème toujours jamais encore retard remboursement super nul génial "
    "vraiment trop attendre réponse depuis hier semaine colis facture".split(),
    "de": "der die das ein eine und aber ich du er wir ihr sie Kunde Bestellung Lieferung danke "
    "hallo Problem immer nie noch Verspätung Rückerstattung super schlecht toll wirklich zu "
    "warten Antwort seit gestern Woche Paket Rechnung".split(),
    "it": "il la gli un una di e ma io tu lui noi voi loro cliente ordine consegna grazie ciao "
    "problema sempre mai ancora ritardo rimborso fantastico pessimo davvero troppo aspettare "
    "risposta da ieri settimana pacco fattura".split(),
    "en": "the a an of and but i you he we they customer order delivery thanks hello problem "
    "always never still delay refund great awful really too wait answer since yesterday week "
    "parcel invoice".split(),
}
_EXTRAS = ["@user", "http://t.co/x", "#fail", "#merci", "😡", "😍", "!!", "?", "&amp;"]


def generated_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` tweet-like texts (random words of one language, mentions, links, emoji)."""
    rng = random.Random(seed)
    langs = list(_WORDS)
    out = []
    for _ in range(n):
        words = _WORDS[rng.choice(langs)]
        k = rng.randint(3, 25)
        parts = [rng.choice(words) for _ in range(k)]
        for _ in range(rng.randint(0, 3)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(_EXTRAS))
        out.append(" ".join(parts))
    return out


def real_texts(data_dir: Path, n: int) -> list[str]:
    """Up to ``n`` real tweets from the labelled sets (cycled if fewer)."""
    from .data import load_complaints, load_tweeteval, load_xlmt

    texts = list(load_xlmt(data_dir, "val").texts)
    texts += load_tweeteval(data_dir, "sentiment", "val").texts
    texts += load_complaints(data_dir).texts
    texts += load_xlmt(data_dir, "train").texts
    if not texts:
        return generated_texts(n)
    random.Random(0).shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)]


def _limit_threads() -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _rate(fn, texts: list[str], batch: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``fn`` over ``texts`` in batches: items per second."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for lo in range(0, len(texts), batch):
            fn(texts[lo : lo + batch])
        best = min(best, time.perf_counter() - start)
    return len(texts) / best if best > 0 else float("inf")


def run(data_dir: Path | None = None, n: int = 20000, batch: int = 1000, analyzer=None, model_dir=None) -> dict:
    """Benchmark (see module docstring); returns the figures as a dict. ``model_dir`` loads the
    models from another directory than the package's."""
    _limit_threads()
    if data_dir is not None:
        texts = real_texts(Path(data_dir), n)
        source = f"real tweets from {data_dir}"
    else:
        texts = generated_texts(n)
        source = "generated texts"

    start = time.perf_counter()
    if analyzer is None:
        from .analyzer import Analyzer, get_analyzer

        analyzer = get_analyzer() if model_dir is None else Analyzer(Path(model_dir))
    load_s = time.perf_counter() - start

    analyzer.analyze(texts[:batch])  # warm caches
    all_rate = _rate(analyzer.analyze, texts, batch)
    lang_rate = _rate(analyzer.detect_languages, texts, batch)
    peak_models_mb = _peak_rss_mb()  # before the baseline loads its own copy of py3langid

    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ref = LanguageIdentifier.from_model_file(MODEL_FILE)
    ref.set_languages(analyzer.languages.identifier.labels)
    ref_texts = texts[: min(len(texts), 10000)]
    start = time.perf_counter()
    for t in ref_texts:
        ref.classify(t)
    ref_rate = len(ref_texts) / (time.perf_counter() - start)

    return {
        "texts": len(texts),
        "source": source,
        "batch": batch,
        "model_version": analyzer.model_version,
        "load_s": round(load_s, 3),
        "posts_per_s": round(all_rate),
        "language_posts_per_s": round(lang_rate),
        "py3langid_classify_posts_per_s": round(ref_rate),
        "language_speedup_vs_py3langid": round(lang_rate / ref_rate, 2),
        "peak_rss_mb": round(peak_models_mb, 1),
        "peak_rss_mb_with_baseline": round(_peak_rss_mb(), 1),
    }


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def format_result(result: dict) -> str:
    keys = [
        ("source", "texts"),
        ("texts", "texts"),
        ("batch", "batch size"),
        ("model_version", "model version"),
        ("load_s", "model load (s)"),
        ("posts_per_s", "all four models (posts/s)"),
        ("language_posts_per_s", "language only (posts/s)"),
        ("py3langid_classify_posts_per_s", "py3langid classify (posts/s)"),
        ("language_speedup_vs_py3langid", "language speed-up (x)"),
        ("peak_rss_mb", "peak RSS, models (MB)"),
        ("peak_rss_mb_with_baseline", "peak RSS with baseline (MB)"),
    ]
    return "\n".join(f"{label:<32} {result[k]}" for k, label in keys)


def run_in_subprocess(data_dir: Path | None, model_dir: Path, n: int = 20000, batch: int = 1000) -> dict:
    """:func:`run` in a fresh Python process (one core, nothing else loaded), as a dict."""
    import json
    import subprocess

    package_root = Path(__file__).resolve().parents[2]  # the folder that holds veille/
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(package_root), env.get("PYTHONPATH", "")) if p)
    code = (
        "import json, sys; from pathlib import Path; from veille.nlp.bench import run; "
        "d = sys.argv[1] or None; "
        "print(json.dumps(run(Path(d) if d else None, int(sys.argv[3]), int(sys.argv[4]), model_dir=Path(sys.argv[2]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data_dir or ""), str(model_dir), str(n), str(batch)],
        env=env, capture_output=True, text=True, check=True, timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
