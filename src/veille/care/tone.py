"""The tone check: what to warn about before a reply goes out."""

from __future__ import annotations

import logging
import re

from django.utils.translation import gettext as _

from veille.care.matching import fold

log = logging.getLogger("veille.care")

# Longest text each platform accepts in one post.
PLATFORM_LIMITS = {"x": 280, "mastodon": 500, "bluesky": 300, "facebook": 8000, "youtube": 10000}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE = re.compile(r"(?<!\w)(?:\+|00)?\d[\d .\-/()]{7,}\d(?!\w)")
AGGRESSIVE_WORDS = {"stupid", "idiot", "shut up", "ridicule", "dumm", "stupido", "nul", "débile"}


def _analysis(text: str):
    try:
        from veille.nlp.analyzer import get_analyzer

        return get_analyzer().analyze([text])[0]
    except Exception as error:  # models missing or broken: the rule-based checks still run
        log.debug("tone check without models: %s", error)
        return None


def warm_up() -> None:
    """Load the models the tone check uses, so a web process's first reply does not wait ~1 s for them."""
    _analysis("warm up")


def check(text: str, *, platform: str = "", public: bool = True, forbidden_words: list[str] | None = None,
          use_models: bool = True) -> list[dict]:
    """Warnings as ``{"code", "message"}``; an empty list means nothing to warn about."""
    warnings: list[dict] = []

    def warn(code: str, message: str) -> None:
        warnings.append({"code": code, "message": message})

    letters = [char for char in text if char.isalpha()]
    if len(letters) >= 8 and sum(char.isupper() for char in letters) / len(letters) > 0.7:
        warn("all_caps", _("The reply is mostly in capital letters, which reads as shouting."))
    folded = fold(text)
    words = set(re.findall(r"\w+", folded))
    for word in forbidden_words or []:
        word_folded = fold(str(word)).strip()
        if word_folded and ((" " in word_folded and word_folded in folded) or word_folded in words):
            warn("forbidden_word", _("The reply contains a forbidden word: %(word)s") % {"word": word})
    if any((" " in bad and bad in folded) or bad in words for bad in AGGRESSIVE_WORDS):
        warn("aggressive", _("The reply contains aggressive words."))
    limit = PLATFORM_LIMITS.get(platform)
    if limit and len(text) > limit:
        warn("too_long", _("The reply has %(count)s characters; the platform allows %(limit)s.") % {"count": len(text), "limit": limit})
    if public and (EMAIL.search(text) or PHONE.search(text)):
        warn("personal_data", _("The public reply contains personal data (an e-mail address or a phone number)."))
    if use_models and text.strip():
        analysis = _analysis(text)
        if analysis is not None:
            if analysis.abuse >= 0.5 and not any(w["code"] == "aggressive" for w in warnings):
                warn("aggressive", _("The reply may read as aggressive."))
            if analysis.sentiment == "negative" and analysis.sentiment_score <= -0.5:
                warn("negative", _("The reply reads as negative."))
    return warnings
