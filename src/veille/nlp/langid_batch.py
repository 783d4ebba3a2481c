"""Batch language identification with py3langid's own model, vectorised with numpy.

py3langid (langid.py) walks each text's UTF-8 bytes through a deterministic automaton: every
state reached may emit one n-gram feature, the per-text feature counts are turned into
``log1p(count)``, multiplied by the naive Bayes table ``nb_ptc`` and added to the class priors
``nb_pc``. Its ``classify`` does that walk in a Python loop, one byte at a time, one text at a
time (tens of microseconds per tweet).

Here the same model is loaded from the installed py3langid package and the walk runs over a
whole batch at once: texts are sorted by length, so at byte position ``p`` the texts still
running are a prefix of the batch, and every position is one vectorised step (gather the
transition, gather the emitted feature). The emitted features become a sparse text x feature
count matrix and one sparse product with the naive Bayes table (restricted to our languages)
gives every score. The few very long texts that would keep the loop going alone are finished
with a plain Python walk, so one huge text does not cost a numpy call per byte.

The result is the same as ``py3langid``'s ``classify`` restricted with ``set_languages`` to the
same languages (the tests check it), up to float rounding in the last bits of the scores.

Model layout expected (py3langid 0.4): ``tk_nextmove`` holds de-duplicated 256-entry transition
rows, ``tk_row`` maps a state to its row, ``tk_output[state]`` is the feature the state emits
(or -1); scores use ``log1p`` of the counts. Other layouts are refused with a clear error.
"""

from __future__ import annotations

import os
import shutil
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# Texts processed per vectorised walk, and the largest padded walk area (texts x bytes).
CHUNK = 8192
CELL_BUDGET = 4_000_000
# Once fewer texts than this are still being walked, finish them with the Python walk.
MIN_ACTIVE = 24
RAW_FLOOR = float(np.finfo(np.float32).min)


class LangIdModelError(RuntimeError):
    """The installed py3langid model does not have the layout this module understands."""


def encode_like_py3langid(text: str) -> bytes:
    """The bytes py3langid walks for ``text`` (same steps as its ``_encode``)."""
    if text.isupper():
        text = text.lower()
    text = unicodedata.normalize("NFC", text)
    return text.encode("utf8", errors="surrogatepass")


def _load_py3langid_model():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise LangIdModelError("py3langid is not installed (pip install 'py3langid>=0.4,<0.5')") from exc
    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    for attr in ("tk_nextmove", "tk_output", "tk_row", "nb_ptc", "nb_pc", "nb_classes"):
        if not hasattr(ident, attr):
            raise LangIdModelError(
                f"py3langid model has no '{attr}': this module expects the py3langid 0.4 layout"
            )
    return ident


def _model_tables(languages: Sequence[str]) -> dict[str, np.ndarray]:
    """The parts of py3langid's model the batch walk uses, restricted to ``languages``."""
    ident = _load_py3langid_model()
    all_classes = list(ident.nb_classes)
    unknown = set(languages) - set(all_classes)
    if unknown:
        raise ValueError(f"py3langid does not know language code(s): {sorted(unknown)}")
    wanted = set(languages)
    # Same columns, same order as py3langid's set_languages (model order), so ties break alike.
    cols = [i for i, c in enumerate(all_classes) if c in wanted]
    out = ident.tk_output
    if isinstance(out, dict) or not hasattr(out, "__len__"):
        raise LangIdModelError("py3langid tk_output is not one feature per state (0.4 layout expected)")
    return {
        "columns": np.array([all_classes[i] for i in cols]),
        "nb_ptc": np.ascontiguousarray(np.asarray(ident.nb_ptc)[:, cols], dtype=np.float32),
        "nb_pc": np.asarray(ident.nb_pc, dtype=np.float32)[cols],
        # The transition table keeps py3langid's bytes (no copy of its 39 MB).
        "nextmove": np.frombuffer(ident.tk_nextmove, dtype=np.dtype(f"u{ident.tk_nextmove.itemsize}")),
        "row": np.frombuffer(ident.tk_row, dtype=np.dtype(f"u{ident.tk_row.itemsize}")),
        "output": np.asarray(out, dtype=np.int32),
    }


def _cache_path(languages: Sequence[str]) -> Path | None:
    """Where the restricted tables are kept between processes: the desk's cache folder
    (``var/cache``), keyed by the py3langid model file, so an upgrade of the package builds
    them again."""
    try:
        from django.conf import settings

        cache_dir = Path(settings.CACHE_DIR)
        from py3langid.langid import MODEL_DIR, MODEL_FILE

        stat = os.stat(Path(MODEL_DIR) / MODEL_FILE)
    except Exception:  # no Django settings (a library use), no py3langid or another layout: no cache
        return None
    key = f"{stat.st_size}-{int(stat.st_mtime)}-{'-'.join(languages)}"
    return cache_dir / f"langid-{key}"


TABLE_NAMES = ("columns", "nb_ptc", "nb_pc", "nextmove", "row", "output")


def load_tables(languages: Sequence[str]) -> dict[str, np.ndarray]:
    """``_model_tables``, read from the cache when a previous process wrote it.

    Unpacking py3langid's compressed model costs about half a second of CPU in every process that
    detects languages (each worker, each import, each preparing process). The cache holds one
    ``.npy`` file per table, mapped read-only into memory: loading takes a millisecond, and all
    processes of the desk share one copy of the 45 MB in the page cache instead of one each. A
    damaged cache is rebuilt.
    """
    folder = _cache_path(languages)
    if folder is not None and folder.is_dir():
        try:
            return {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in TABLE_NAMES}
        except (OSError, ValueError):
            pass
    tables = _model_tables(languages)
    if folder is not None:
        _write_cache(folder, tables)
    return tables


def _write_cache(folder: Path, tables: dict[str, np.ndarray]) -> None:
    """Write the tables beside ``folder`` and swap them in whole: a reader sees the old folder or
    the new one, never half of one (a process that mapped the old files keeps reading them)."""
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    stale = folder.with_name(f"{folder.name}.{os.getpid()}.old")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial.mkdir(exist_ok=True)
        for name in TABLE_NAMES:
            np.save(partial / f"{name}.npy", tables[name], allow_pickle=False)
        if folder.exists():
            folder.rename(stale)  # damaged: set aside, removed below
        partial.rename(folder)
        folder.with_name(f"{folder.name}.npz").unlink(missing_ok=True)  # the single-file form of earlier versions
    except OSError:
        pass  # a read-only install works without the cache; another process may have won the race
    finally:
        for leftover in (partial, stale):
            shutil.rmtree(leftover, ignore_errors=True)


class BatchLanguageIdentifier:
    """py3langid's model, restricted to ``languages``, scoring whole batches at once."""

    def __init__(self, languages: Sequence[str]):
        tables = load_tables(list(languages))
        self.columns = [str(c) for c in tables["columns"]]
        self.labels: list[str] = list(dict.fromkeys(self.columns))
        # column -> index of its label (aliases such as two "sr" columns share one label)
        self._col_label = np.array([self.labels.index(c) for c in self.columns], dtype=np.intp)
        self._has_alias = len(self.labels) != len(self.columns)

        self.nb_ptc = np.ascontiguousarray(tables["nb_ptc"], dtype=np.float32)
        self.nb_pc = np.asarray(tables["nb_pc"], dtype=np.float32)
        self.n_features = self.nb_ptc.shape[0]

        # Transition table: a numpy array, and a memoryview of the same bytes for the Python walk.
        self._nm = tables["nextmove"]
        self._nm_py = memoryview(self._nm)
        self._rowbase = tables["row"].astype(np.int64) << 8
        self._rowbase_py = self._rowbase.tolist()
        self._out = np.asarray(tables["output"], dtype=np.int32)
        # int32 copies for the vectorised walk (halves memory traffic vs int64)
        if self._nm.dtype.itemsize == 4 and int(self._nm.max()) < 2**31:
            self._nm32 = self._nm.view(np.int32)  # same bytes, no copy of the 39 MB table
        else:
            self._nm32 = self._nm.astype(np.int32)
        self._rowbase32 = self._rowbase.astype(np.int32)
        self._out_py = self._out.tolist()
        if len(self._out) != len(self._rowbase):
            raise LangIdModelError("py3langid model: tk_output and tk_row disagree in length")
        if int(self._out.max()) >= self.n_features:
            raise LangIdModelError("py3langid model: feature index beyond nb_ptc")

    # ------------------------------------------------------------------ walking
    def _tail_walk(self, data: bytes, start: int, state: int, feats: list[int]) -> None:
        nm, rb, out = self._nm_py, self._rowbase_py, self._out_py
        append = feats.append
        for byte in data[start:]:
            state = nm[rb[state] + byte]
            f = out[state]
            if f >= 0:
                append(f)

    def count_matrix(self, encoded: Sequence[bytes]) -> sp.csr_matrix:
        """Sparse (texts x features) matrix of feature counts for already encoded texts."""
        n = len(encoded)
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")
        rows_parts, feat_parts = [], []
        i = 0
        while i < n:
            # chunks of similar lengths; the padded walk area (texts x bytes) stays bounded
            size = max(1, min(CHUNK, CELL_BUDGET // max(int(lengths[order[i]]), 1)))
            idx = order[i : i + size]
            rows, feats = self._count_chunk([encoded[j] for j in idx.tolist()])
            rows_parts.append(idx[rows])
            feat_parts.append(feats)
            i += size
        if not rows_parts:
            return sp.csr_matrix((n, self.n_features), dtype=np.float32)
        rows = np.concatenate(rows_parts)
        feats = np.concatenate(feat_parts)
        counts = sp.csr_matrix(
            (np.ones(rows.size, dtype=np.float32), (rows, feats)), shape=(n, self.n_features)
        )
        counts.sum_duplicates()
        return counts

    def _count_chunk(self, encoded: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(row, feature) of every feature emitted by the texts of one chunk."""
        n = len(encoded)
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")
        slen = lengths[order]
        # Vectorised walk covers positions while at least MIN_ACTIVE texts are running.
        if n == 0 or slen[0] == 0:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        # too few texts for numpy to pay: the Python walk does all of it
        n_vec_pos = int(slen[MIN_ACTIVE - 1]) if n >= MIN_ACTIVE else 0
        # active[p] = number of texts longer than p (texts are sorted longest first)
        active = np.searchsorted(-slen, -np.arange(n_vec_pos), side="left").astype(np.int64)

        # position-major padded bytes: row p holds byte p of every text (0 past its end)
        width = max(n_vec_pos, 1)
        padded = b"".join([encoded[i][:width].ljust(width, b"\0") for i in order.tolist()])
        bytes_pm = np.frombuffer(padded, dtype=np.uint8).reshape(n, width).T.astype(np.int32)

        # states[p, i] = state of text i after its byte p (valid for i < active[p]); the walk
        # is three numpy calls per byte position, whatever the batch size.
        nm, rowbase = self._nm32, self._rowbase32
        states = np.zeros((n_vec_pos + 1, n), dtype=np.int32)  # row 0: start state 0
        for p in range(n_vec_pos):
            a = active[p]
            idx = rowbase.take(states[p, :a])
            idx += bytes_pm[p, :a]
            nm.take(idx, out=states[p + 1, :a])
        valid = np.arange(n) < active[:, None]  # (positions x texts)
        rows = np.broadcast_to(np.arange(n, dtype=np.int64), valid.shape)[valid]
        feats = self._out.take(states[1:][valid])
        state = states[n_vec_pos] if n_vec_pos else states[0]
        # texts shorter than n_vec_pos stopped earlier; only the longer ones continue below

        # Long tails: texts still running after the vectorised part.
        tail_rows, tail_feats = [], []
        for i in np.nonzero(slen > n_vec_pos)[0].tolist():
            extra: list[int] = []
            self._tail_walk(encoded[order[i]], n_vec_pos, int(state[i]), extra)
            tail_rows.append(np.full(len(extra), i, dtype=np.int64))
            tail_feats.append(np.asarray(extra, dtype=np.int32))
        if tail_rows:
            rows = np.concatenate([rows, *tail_rows])
            feats = np.concatenate([feats, *tail_feats])

        mask = feats >= 0
        return order[rows[mask]], feats[mask]  # rows back in the chunk's order

    # ------------------------------------------------------------------ scoring
    def _column_scores(self, encoded: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        counts = self.count_matrix(encoded)
        counts.data = np.log1p(counts.data)
        scores = np.asarray(counts @ self.nb_ptc, dtype=np.float32) + self.nb_pc
        empty = np.diff(counts.indptr) == 0
        return scores, empty

    def raw_scores(self, encoded: Sequence[bytes]) -> np.ndarray:
        """py3langid's raw naive Bayes scores, one row per text, one column per label."""
        scores, empty = self._column_scores(encoded)
        if empty.any():
            scores[empty] = RAW_FLOOR
        if self._has_alias:
            merged = np.full((scores.shape[0], len(self.labels)), -np.inf, dtype=np.float32)
            for c, lab in enumerate(self._col_label):
                np.maximum(merged[:, lab], scores[:, c], out=merged[:, lab])
            scores = merged
        return scores

    def classify_raw(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """Exactly what py3langid's ``classify`` answers (restricted), for a batch of texts."""
        scores = self.raw_scores([encode_like_py3langid(t) for t in texts])
        best = scores.argmax(axis=1)
        return [(self.labels[b], float(scores[i, b])) for i, b in enumerate(best.tolist())]

    def probabilities(self, encoded: Sequence[bytes]) -> np.ndarray:
        """Normalised class probabilities, as py3langid's ``norm_probs=True`` computes them
        (raw scores tempered by the square root of the byte length, then softmax)."""
        scores, empty = self._column_scores(encoded)
        scores = scores.astype(np.float64)
        scores[empty] = 0.0  # featureless text: uniform, as py3langid does
        lengths = np.fromiter((len(b) or 1 for b in encoded), dtype=np.float64, count=len(encoded))
        scores *= (1.0 / np.sqrt(lengths))[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        if self._has_alias:  # aliases pool their probability mass, as in py3langid
            merged = np.zeros((scores.shape[0], len(self.labels)))
            np.add.at(merged.T, self._col_label, scores.T)
            scores = merged
        return scores


_CACHE: dict[tuple[str, ...], BatchLanguageIdentifier] = {}
_CACHE_LOCK = threading.Lock()


def get_identifier(languages: Sequence[str]) -> BatchLanguageIdentifier:
    """A shared identifier for this set of languages (loading py3langid's model takes ~0.5 s)."""
    key = tuple(languages)
    with _CACHE_LOCK:
        ident = _CACHE.get(key)
        if ident is None:
            ident = _CACHE[key] = BatchLanguageIdentifier(key)
        return ident
