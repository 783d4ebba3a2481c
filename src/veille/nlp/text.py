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

_URL = re.compile(r"(?:https?://|www\.)\S*|\bhttps?\b(?:…|\.\.\.)?", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_RT = re.compile(r"(?<!\w)RT(?=\s*@|\s*:)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REPEAT = re.compile(r"(.)\1{3,}")
_SPACES = re.compile(r"\s+")


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


def for_language(text: object) -> str:
    """Text for language identification (see module docstring)."""
    text = _unescape(safe_text(text))
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _RT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def for_models(text: object) -> str:
    """Text for the sentiment / complaint / abuse models (see module docstring)."""
    text = _unescape(safe_text(text))
    text = _URL.sub(" http ", text)
    text = _MENTION.sub(" @user ", text)
    text = text.lower()
    text = _REPEAT.sub(r"\1\1\1", text)
    return _SPACES.sub(" ", text).strip()


def letter_count(text: str) -> int:
    """Number of alphabetic characters (any script)."""
    return sum(1 for ch in text if ch.isalpha())
