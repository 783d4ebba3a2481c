"""Tweet text normalisation shared by training and inference.

Two views of a post are made:

* ``for_language``: what language identification sees: HTML entities decoded, URLs, @mentions
  and "RT" removed (they carry no language), case kept (py3langid is trained on cased text).
* ``for_models``: what the sentiment / complaint / abuse models see: HTML entities decoded,
  URLs -> ``http``, @mentions -> ``@user`` (the placeholders TweetEval and XLM-T use), lower
  case, letters repeated more than three times shortened ("soooooo" -> "sooo"), emoji and
  hashtags kept.

Both are defensive: any ``str`` (NUL bytes, lone surrogates, control characters, megabytes)
gives a valid, bounded ``str`` back. Non-``str`` values are turned into an empty text.
"""

from __future__ import annotations

import html
import re

# Longest text the models look at. Posts are far shorter; the tail of a longer text adds
# nothing to a tweet-trained model and would only cost time.
MAX_CHARS = 4000

# Patterns start with a literal so the regex engine can skip ahead (several times faster on
# tweets than patterns that open with a look-behind); the look-behinds sit after the literal.
_URL_FAST = r"h(?<!\wh)ttps?(?:://\S*|\b(?:…|\.\.\.)?)|www\.\S*"
_MENTION_FAST = r"@(?<![\w@]@)\w+"
_RT_FAST = r"RT(?<!\wRT)(?=\s*[@:])"
_URL = re.compile(_URL_FAST)
_URL_ANYCASE = re.compile(_URL_FAST, re.IGNORECASE)  # only used when "HTTP" / "Www." appear
_MENTION = re.compile(_MENTION_FAST)
_NOISE = re.compile("|".join((_URL_FAST, _MENTION_FAST, _RT_FAST)))
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REPEAT = re.compile(r"(.)\1{3,}")


def safe_text(text: object) -> str:
    """A clean, bounded ``str``: non-strings become "", lone surrogates become U+FFFD,
    control characters (NUL included) become spaces."""
    if not isinstance(text, str):
        return ""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    if not text.isprintable():  # fast path: most posts are printable already
        text = _CONTROL.sub(" ", text)
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _unescape(text: str) -> str:
    # Tweets come with "&amp;", "&lt;" ... (TWCS, TweetEval); sometimes double-escaped.
    if "&" in text:
        text = html.unescape(html.unescape(text))
        if not text.isprintable():  # "&#0;" and friends can bring control characters back
            text = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", text))
    return text


def _base(text: object) -> str:
    return _unescape(safe_text(text))


def _has_url(text: str) -> bool:
    return "ttp" in text or "TTP" in text or "ww." in text or "WW." in text


def _odd_case_url(text: str) -> bool:
    return "TTP" in text or "Http" in text or "WW." in text or "Www." in text


def _language_view(text: str) -> str:
    if "@" in text or "RT" in text or _has_url(text):
        text = _NOISE.sub(" ", text)
        if _odd_case_url(text):
            text = _URL_ANYCASE.sub(" ", text)
    return " ".join(text.split())


def _model_view(text: str) -> str:
    if _has_url(text):
        text = _URL.sub(" http ", text)
        if _odd_case_url(text):
            text = _URL_ANYCASE.sub(" http ", text)
    if "@" in text:
        text = _MENTION.sub(" @user ", text)
    text = _REPEAT.sub(r"\1\1\1", text.lower())
    return " ".join(text.split())


def for_language(text: object) -> str:
    """Text for language identification (see module docstring)."""
    return _language_view(_base(text))


def for_models(text: object) -> str:
    """Text for the sentiment / complaint / abuse models (see module docstring)."""
    return _model_view(_base(text))


def both_views(text: object) -> tuple[str, str]:
    """``(for_language(text), for_models(text))``, sharing the common steps."""
    base = _base(text)
    return _language_view(base), _model_view(base)


def letter_count(text: str) -> int:
    """Number of alphabetic characters (any script)."""
    return sum(1 for ch in text if ch.isalpha())
