"""Every interface string is translated into French, German and Italian (English is the source)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[1] / "src" / "veille" / "locale"
ENTRY = re.compile(r'^(#.*\n)*msgid ((?:".*"\n)+)(msgid_plural (?:".*"\n)+)?((?:msgstr(?:\[\d\])? (?:".*"\n)+)+)', re.M)


def unquote(parts: list[str]) -> str:
    return "".join(parts).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def entries(path: Path):
    text = path.read_text(encoding="utf-8") + "\n"
    for match in ENTRY.finditer(text):
        msgid = unquote(re.findall(r'"(.*)"', match.group(2)))
        if not msgid:
            continue  # the header
        translations = re.findall(r'msgstr(?:\[\d\])? ((?:".*"\n)+)', match.group(4))
        flags = match.group(0).split("msgid", 1)[0]
        yield msgid, [unquote(re.findall(r'"(.*)"', t)) for t in translations], "fuzzy" in flags


@pytest.mark.parametrize("language", ["fr", "de", "it"])
def test_catalogue_is_complete_and_compiled(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    found = list(entries(po))
    assert len(found) > 100
    missing = [msgid for msgid, translations, fuzzy in found if fuzzy or not all(translations)]
    assert missing == [], f"{language}: untranslated or fuzzy: {missing[:10]}"
    placeholders = re.compile(r"%\(\w+\)s")
    for msgid, translations, _fuzzy in found:
        for translation in translations:
            assert set(placeholders.findall(translation)) <= set(placeholders.findall(msgid)) | {"%(counter)s"}, msgid
    with mo.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, translations, _fuzzy in found if "%(counter)s" not in msgid
             and catalogue.gettext(msgid) != translations[0]]
    assert stale == [], f"{language}: the compiled catalogue is out of date (make messages): {stale[:5]}"
