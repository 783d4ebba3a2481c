"""Hashed word and character n-gram features, computed for a whole batch with numpy.

One call turns a batch of normalised texts (see ``text.for_models``) into one sparse matrix
(texts x 2**n_bits, float32, rows L2-normalised) that every linear model of the package
multiplies. No Python loop runs per character or per token: all texts are joined into one
array of code points, and n-gram hashes are computed over that array at once.

Features (each family hashed with its own salt into the same space):

* character n-grams, ``char_min``..``char_max`` characters, over the text padded with one space
  on each side (so word starts and ends are visible);
* tokens: runs of letters/digits, and every other visible character (punctuation, emoji) alone;
* token bigrams (two consecutive tokens of the same text).

Weights: each occurrence counts its family weight (character n-gram 1, token ``token_weight``,
language copy ``group_weight``); a row is divided by the square root of the sum of its squared
occurrence weights (the L2 norm when no feature repeats). Repeated features are left as
separate entries of the CSR matrix (sparse products add them up; training code may call
``sum_duplicates``), which saves a sort per batch.

Hashes are plain 64-bit arithmetic (polynomial rolling hash plus a murmur-style finaliser),
identical on every platform and Python version, so a model trained once keeps working; they
are not Python's salted ``hash()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

_P = np.uint64(0x100000001B3)  # FNV-1a 64 prime, odd
_P2 = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)

_SALT_CHAR = 0x1000
_SALT_TOKEN = 0x2000
_SALT_BIGRAM = 0x3000

# Token classes of a code point: 0 boundary (space, separator, joiners), 1 word character,
# 2 a token on its own (punctuation, symbol, emoji).
_TABLE_SIZE = 0x3000


def _build_class_table() -> np.ndarray:
    table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
    for cp in range(_TABLE_SIZE):
        ch = chr(cp)
        if ch.isalnum() or ch == "_" or 0x0300 <= cp < 0x0370:  # combining accents stay in words
            table[cp] = 1
        elif ch.isspace() or cp == 0 or not ch.isprintable():
            table[cp] = 0
        else:
            table[cp] = 2
    for cp in (0x200B, 0x200C, 0x200D, 0x2060):  # zero-width characters and joiners
        table[cp] = 0
    return table


_CLASS_TABLE = _build_class_table()


def _group_salt(group: str) -> int:
    """Stable 64-bit salt of a group name (FNV-1a over its UTF-8 bytes)."""
    h = 0xCBF29CE484222325
    for byte in (group or "").encode("utf-8", "replace"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


_SALTS: dict[str, int] = {}


def _salt_of(group: str) -> int:
    salt = _SALTS[group] = _group_salt(group)
    return salt


def _fmix(x: np.ndarray) -> np.ndarray:
    """Murmur3 64-bit finaliser (in place on a uint64 array)."""
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


def _classes(cps: np.ndarray) -> np.ndarray:
    cls = np.empty(cps.shape, dtype=np.uint8)
    low = cps < _TABLE_SIZE
    cls[low] = _CLASS_TABLE[cps[low]]
    high = cps[~low]
    hc = np.ones(high.shape, dtype=np.uint8)  # CJK, other scripts: word characters
    emoji = ((high >= 0x1F000) & (high < 0x1FB00)) | ((high >= 0x2B00) & (high < 0x2C00))
    hc[emoji] = 2
    skin_or_vs = ((high >= 0x1F3FB) & (high <= 0x1F3FF)) | ((high >= 0xFE00) & (high <= 0xFE0F))
    hc[skin_or_vs] = 0
    hc[(high >= 0x3000) & (high < 0x3040)] = 2  # CJK punctuation
    hc[(high >= 0xFF00) & (high < 0xFF10)] = 2  # full-width punctuation
    hc[high == 0xFFFD] = 2
    cls[~low] = hc
    return cls


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    n_bits: int = 18
    char_min: int = 2
    char_max: int = 5
    token_bigrams: bool = True
    token_weight: float = 1.0  # weight of one token / bigram occurrence vs one char n-gram
    # Language-conjoined copies of the features ("frustratingly easy" domain adaptation): each
    # feature also counts once more, hashed together with the text's language, with this weight
    # (0 = off). Lets a shared model keep language-specific weights.
    group_weight: float = 0.0
    group_scope: str = "all"  # "all" features, or only "tokens" (tokens and bigrams)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Featurizer:
    """Batch texts -> sparse hashed feature matrix (see module docstring)."""

    def __init__(self, config: FeatureConfig | None = None):
        self.config = config or FeatureConfig()
        self.n_features = 1 << self.config.n_bits
        self._mask = np.uint64(self.n_features - 1)

    def transform(self, texts: Sequence[str], groups: Sequence[str] | None = None) -> sp.csr_matrix:
        """Feature matrix of ``texts``; ``groups`` (e.g. languages, one per text) feed the
        group-conjoined copies when ``group_weight`` is set."""
        n = len(texts)
        if n == 0:
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        joined = "\x00".join([f" {t} " if t else "" for t in texts])
        cps = np.frombuffer(joined.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
        cps = cps.astype(np.uint64)
        is_sep = cps == 0
        text_id = np.cumsum(is_sep, dtype=np.int64)  # the separator belongs to the next text

        rows_parts: list[np.ndarray] = []
        cols_parts: list[np.ndarray] = []
        self._char_ngrams(cps, is_sep, text_id, rows_parts, cols_parts)
        n_char = sum(part.size for part in rows_parts)
        self._tokens(cps, text_id, rows_parts, cols_parts)

        if not rows_parts:
            return sp.csr_matrix((n, self.n_features), dtype=np.float32)
        rows = np.concatenate(rows_parts)
        cols = np.concatenate(cols_parts)
        values = np.ones(rows.size, dtype=np.float32)
        if self.config.token_weight != 1.0:
            values[n_char:] = self.config.token_weight
        if self.config.group_weight and groups is not None:
            if len(groups) != n:
                raise ValueError(f"{n} texts but {len(groups)} groups")
            salts = np.array([_SALTS.get(g) or _salt_of(g) for g in groups], dtype=np.uint64)
            lo = 0 if self.config.group_scope == "all" else n_char
            g_rows = rows[lo:]
            g_cols = _fmix(cols[lo:].astype(np.uint64) * _P2 + salts[g_rows]) & self._mask
            rows = np.concatenate([rows, g_rows])
            cols = np.concatenate([cols, g_cols.astype(np.int64)])
            values = np.concatenate([values, values[lo:] * np.float32(self.config.group_weight)])
        # Group entries by row with a stable counting sort; duplicates (the same n-gram twice in
        # a text) stay as separate entries, which sparse products sum anyway. Each row is scaled
        # by the norm of its occurrence weights, so no sort within rows is ever needed.
        order = np.argsort(rows.astype(np.uint16) if n <= 0xFFFF else rows, kind="stable")
        per_row = np.bincount(rows, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(per_row, out=indptr[1:])
        sq = np.bincount(rows, weights=values.astype(np.float64) ** 2, minlength=n)
        scale = (1.0 / np.sqrt(np.where(sq > 0, sq, 1.0))).astype(np.float32)
        data = values[order] * scale[rows[order]]
        return sp.csr_matrix((data, cols[order].astype(np.int32), indptr), shape=(n, self.n_features))

    def _char_ngrams(self, cps, is_sep, text_id, rows_parts, cols_parts) -> None:
        cfg = self.config
        total = cps.size
        h = np.zeros(total, dtype=np.uint64)
        for n in range(1, cfg.char_max + 1):
            # h[i] = hash of cps[i : i+n]; computed from the (n-1)-gram hash in place
            m = total - n + 1
            if m <= 0:
                break
            h = h[:m] * _P + cps[n - 1 : n - 1 + m]
            if n < cfg.char_min:
                continue
            valid = (~is_sep[:m]) & (text_id[:m] == text_id[n - 1 : n - 1 + m])
            idx = np.nonzero(valid)[0]
            hv = h[idx] + np.uint64(_SALT_CHAR + n)
            cols_parts.append((_fmix(hv) & self._mask).astype(np.int64))
            rows_parts.append(text_id[idx])

    def _tokens(self, cps, text_id, rows_parts, cols_parts) -> None:
        cls = _classes(cps)
        keep = np.nonzero(cls)[0]
        if keep.size == 0:
            return
        kc = cls[keep]
        # a token starts at a "2" character, or at a word character not continuing a word run
        prev_pos = np.empty_like(keep)
        prev_pos[0] = -2
        prev_pos[1:] = keep[:-1]
        prev_cls = np.empty_like(kc)
        prev_cls[0] = 0
        prev_cls[1:] = kc[:-1]
        starts = (kc == 2) | (prev_pos != keep - 1) | (prev_cls != 1)
        start_idx = np.nonzero(starts)[0]
        tok_of = np.cumsum(starts) - 1
        offset = (np.arange(keep.size) - start_idx[tok_of]).astype(np.uint64)
        v = cps[keep] * _P2 + offset * _P + np.uint64(1)
        v = _fmix(v)
        tok_hash = np.add.reduceat(v, start_idx)
        tok_text = text_id[keep[start_idx]]

        uni = _fmix(tok_hash + np.uint64(_SALT_TOKEN))
        cols_parts.append((uni & self._mask).astype(np.int64))
        rows_parts.append(tok_text)
        if self.config.token_bigrams and tok_hash.size > 1:
            same = tok_text[:-1] == tok_text[1:]
            big = tok_hash[:-1][same] * _P2 + tok_hash[1:][same] + np.uint64(_SALT_BIGRAM)
            cols_parts.append((_fmix(big) & self._mask).astype(np.int64))
            rows_parts.append(tok_text[:-1][same])
