"""A deterministic simulation of social traffic about Alpina Telecom (fictional Swiss operator).

Customers post at ``rate_per_min`` (a Poisson process) in German, French, Italian and English:
questions, complaints, praise, neutral mentions, competitor comparisons and a few DMs. The care
account @AlpinaCare answers part of them, and some threads go on (customer → care → customer →
care, 2 to 4 posts). During the outage episode complaints come eight times as often, they name
the outage (panne / Störung / guasto / outage, #AlpinaDown), and the care account posts status
updates at its start and end.

Everything is driven by one ``random.Random(seed)`` and a queue of timed events processed in time
order, so the same seed gives the same posts, however ``generate`` calls slice the time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from . import content as C

LANGS = ("de", "fr", "it", "en")
LANG_WEIGHTS = (0.46, 0.29, 0.11, 0.14)
POOL_SIZES = {"de": 320, "fr": 230, "it": 90, "en": 120}

# Share of the customer traffic per kind of post (outside the outage episode).
CATEGORY_WEIGHTS = (
    ("question", 0.30),
    ("complaint", 0.24),
    ("praise", 0.12),
    ("neutral", 0.15),
    ("competitor", 0.09),
    ("dm", 0.05),
    ("brand", 0.001),
)
COMPLAINT_SHARE = dict(CATEGORY_WEIGHTS)["complaint"] / sum(w for _, w in CATEGORY_WEIGHTS)
OUTAGE_FACTOR = 8  # complaints during the outage episode, relative to normal
# Chance that the care account answers, by category of the customer's post.
CARE_ANSWERS = {"question": 0.6, "complaint": 0.55, "outage": 0.3, "praise": 0.25,
                "competitor": 0.1, "dm": 0.85}
TOPICS_Q = ("roaming", "invoice", "5g", "fibre", "esim")
TOPICS_C = ("outage", "billing", "support", "coverage")
TOPIC_TAG = {"billing": "invoice", "support": None, "coverage": "5g", "outage": "outage"}

CARE_ACCOUNT = {"id": "demo-u-care", "handle": C.CARE_HANDLE, "name": "Alpina Care",
                "followers": 18_450}
MAIN_ACCOUNT = {"id": "demo-u-main", "handle": C.MAIN_HANDLE, "name": C.BRAND_NAME,
                "followers": 126_300}
POST_URL = "https://social.example/@{handle}/{id}"


class DemoGenerator:
    """Posts in the ndjson schema (see docs/formats.md), deterministic for a given seed."""

    def __init__(
        self,
        seed: int = 0,
        start: datetime | None = None,
        rate_per_min: float = 30.0,
        outage_at_min: float | None = 20.0,
        outage_minutes: float = 15.0,
    ) -> None:
        if start is None:
            start = datetime.now(UTC).replace(second=0, microsecond=0)
        elif start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be a timezone-aware datetime")
        if not rate_per_min > 0 or math.isinf(rate_per_min):
            raise ValueError(f"rate_per_min must be a positive number, not {rate_per_min!r}")
        if outage_minutes < 0:
            raise ValueError(f"outage_minutes must be ≥ 0, not {outage_minutes!r}")
        self.seed = seed
        self.start = start.astimezone(UTC)
        self.rate_per_min = float(rate_per_min)
        self.outage_at_min = outage_at_min
        self.outage_minutes = float(outage_minutes)
        if outage_at_min is not None and outage_minutes > 0:
            self.outage_window: tuple[float, float] | None = (
                outage_at_min * 60.0, (outage_at_min + outage_minutes) * 60.0)
        else:
            self.outage_window = None

        self._rng = random.Random(seed)
        self._authors, self._author_weights = _author_pools(random.Random(f"authors/{seed}"))
        self._events: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self._emitted = 0
        self._clock = 0.0  # seconds after start up to which posts were handed out

        self._schedule(self._gap(self.rate_per_min), "arrive", None)
        if self.outage_window is not None:
            begin, end = self.outage_window
            extra_rate = self.rate_per_min * COMPLAINT_SHARE * (OUTAGE_FACTOR - 1)
            if extra_rate > 0:
                self._schedule(begin + self._gap(extra_rate), "outage", extra_rate)
            for i, lang in enumerate(LANGS):
                self._schedule(begin + 240 + 20 * i, "status", ("status_start", lang))
                self._schedule(end + 120 + 20 * i, "status", ("status_end", lang))

    # ---- public -------------------------------------------------------------------------------

    def generate(self, until: datetime) -> list[dict[str, Any]]:
        """All posts created after the previous call and up to ``until``, oldest first."""
        if until.tzinfo is None or until.utcoffset() is None:
            raise ValueError("until must be a timezone-aware datetime")
        limit = (until - self.start).total_seconds()
        out: list[dict[str, Any]] = []
        while self._events and self._events[0][0] <= limit:
            post = self._step()
            if post is not None:
                out.append(post)
        self._clock = max(self._clock, limit)
        return out

    def posts(self, n: int) -> list[dict[str, Any]]:
        """The first ``n`` posts from the start (a fresh run; this generator's clock is untouched)."""
        twin = DemoGenerator(self.seed, self.start, self.rate_per_min, self.outage_at_min,
                             self.outage_minutes)
        out: list[dict[str, Any]] = []
        while len(out) < n:
            post = twin._step()
            if post is not None:
                out.append(post)
        return out

    # ---- simulation ---------------------------------------------------------------------------

    def _gap(self, rate_per_min: float) -> float:
        return self._rng.expovariate(rate_per_min / 60.0)

    def _schedule(self, at: float, kind: str, data: Any) -> None:
        heapq.heappush(self._events, (at, next(self._seq), kind, data))

    def _in_outage(self, t: float) -> bool:
        return self.outage_window is not None and self.outage_window[0] <= t < self.outage_window[1]

    def _step(self) -> dict[str, Any] | None:
        t, _, kind, data = heapq.heappop(self._events)
        rng = self._rng
        if kind == "arrive":
            self._schedule(t + self._gap(self.rate_per_min), "arrive", None)
            return self._customer_post(t, _pick(rng, CATEGORY_WEIGHTS))
        if kind == "outage":
            assert self.outage_window is not None
            nxt = t + self._gap(data)
            if nxt < self.outage_window[1]:
                self._schedule(nxt, "outage", data)
            return self._customer_post(t, "outage")
        if kind == "care":
            return self._care_reply(t, *data)
        if kind == "followup":
            return self._customer_followup(t, *data)
        if kind == "status":
            which, lang = data
            text = self._fill(rng.choice(C.CARE_REPLIES[lang][which]), lang, tag=C.OUTAGE_TAG)
            return self._emit(t, CARE_ACCOUNT, text, lang, outbound=True)
        raise AssertionError(kind)

    def _customer_post(self, t: float, category: str) -> dict[str, Any]:
        rng = self._rng
        lang = _pick_lang(rng)
        if category == "brand":
            text = self._fill(rng.choice(C.BRAND_POSTS[lang]), lang)
            return self._emit(t, MAIN_ACCOUNT, text, lang, outbound=True)
        author = rng.choices(self._authors[lang], cum_weights=self._author_weights[lang])[0]
        topic = None
        if category == "question":
            topic = rng.choice(TOPICS_Q)
            template = rng.choice(C.QUESTIONS[lang][topic])
        elif category == "complaint":
            topic = rng.choice(TOPICS_C)
            template = rng.choice(C.COMPLAINTS[lang][topic])
        elif category == "outage":
            topic = "outage"
            template = rng.choice(C.OUTAGE[lang])
        elif category == "praise":
            template = rng.choice(C.PRAISE[lang])
        elif category == "neutral":
            template = rng.choice(C.NEUTRAL[lang])
        elif category == "competitor":
            template = rng.choice(C.COMPETITOR[lang])
        else:  # dm
            template = rng.choice(C.DMS[lang])
        text = self._compose(template, lang, category, topic, t)
        kind = "dm" if category == "dm" else "post"
        post = self._emit(t, author, text, lang, kind=kind)
        self._maybe_answer(t, post, author, lang, category, depth=1, topic=topic)
        return post

    def _compose(self, template: str, lang: str, category: str, topic: str | None, t: float) -> str:
        rng = self._rng
        minutes = max(5, int((t - self.outage_window[0]) / 60)) if self._in_outage(t) else 20
        body = self._fill(template, lang, minutes=minutes)
        if category != "dm":
            opener = rng.choice(C.OPENERS[lang]) if category in ("question", "complaint") else ""
            if opener:
                words = body.split(" ")
                k = 0
                while k < len(words) - 1 and words[k].startswith("@"):
                    k += 1
                rest = " ".join(words[k:])
                if lang != "de":  # German nouns keep their capital
                    rest = _lower_first(rest)
                body = " ".join(words[:k] + [opener, rest])
            closers = C.CLOSERS.get(category if category != "outage" else "complaint")
            if closers:
                closer = rng.choice(closers[lang])
                if closer:
                    body = f"{body.rstrip('.')}. {closer}" if not body.endswith(("?", "!", "…")) \
                        else f"{body} {closer}"
            mood = {"complaint": "angry", "outage": "outage", "praise": "happy"}.get(category, "neutral")
            if rng.random() < (0.6 if category == "outage" else 0.35):
                body += " " + rng.choice(C.EMOJI[mood]) * rng.choice((1, 1, 1, 2, 3))
            tags = C.HASHTAGS[lang]
            if category == "outage" and rng.random() < 0.65:
                body += " " + C.OUTAGE_TAG
                if rng.random() < 0.3:
                    body += " " + tags["outage"][0]
            elif topic and rng.random() < 0.25:
                key = TOPIC_TAG.get(topic, topic)
                if key:
                    body += " " + rng.choice(tags[key])
            if rng.random() < 0.08:
                body += " " + rng.choice(tags["general"])
            if "http" not in body and rng.random() < 0.07:
                body += " " + self._customer_url()
        if rng.random() < 0.12:
            body = _typo(rng, body)
        return body

    def _fill(self, template: str, lang: str, **extra: Any) -> str:
        rng = self._rng
        competitor, competitor_handle = rng.choice(C.COMPETITORS)
        slots = {
            "m": rng.choice(("@AlpinaCare", "@AlpinaCare", "@AlpinaCare", "@AlpinaTelecom",
                             "@AlpinaTelecom @AlpinaCare")),
            "brand": rng.choice(("Alpina", "Alpina", C.BRAND_NAME, "@AlpinaTelecom")),
            "city": rng.choice(C.CITIES[lang]),
            "country": rng.choice(C.COUNTRIES[lang]),
            "amount": rng.choice(("19.90", "29.–", "34.50", "49.90", "79.–", "120.–", "245.60",
                                  "12.30", "89.90", "310.–")),
            "device": rng.choice(C.DEVICES),
            "plan": rng.choice(C.PLANS),
            "competitor": rng.choice((competitor, "@" + competitor_handle)),
            "days": rng.choice((2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 21)),
            "hours": rng.choice((2, 3, 4, 5, 6, 7, 8, 9)),
            "speed": rng.choice((2, 4, 8, 12, 25, 45, 230, 480, 870, 1200)),
            "month": rng.choice(C.MONTHS[lang]),
            "url": self._customer_url(),
            "ticket": f"{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}",
            "help": rng.choice(C.HELP_URLS),
            "status": "https://alpina-telecom.example/status",
            "tag": C.OUTAGE_TAG,
            "agent": rng.choice(C.AGENTS),
            "name": "",
            "minutes": 20,
        }
        slots.update(extra)
        return template.format_map(slots)

    def _customer_url(self) -> str:
        rng = self._rng
        code = "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                       for _ in range(7))
        return rng.choice(C.CUSTOMER_URLS).format(code=code, digits=rng.randint(10**7, 10**8 - 1))

    def _maybe_answer(self, t: float, post: dict[str, Any], customer: dict[str, Any], lang: str,
                      category: str, depth: int, topic: str | None = None) -> None:
        rng = self._rng
        if depth == 1:
            chance = CARE_ANSWERS.get(category, 0.0)
        else:
            chance = 0.7 if category == "bad" else 0.3
        if rng.random() >= chance:
            return
        median_min = 30.0 if self._in_outage(t) else 9.0
        delay = min(4 * 3600.0, max(60.0, 60 * rng.lognormvariate(math.log(median_min), 0.7)))
        self._schedule(t + delay, "care", (post, customer, lang, category, depth, topic))

    def _care_reply(self, t: float, parent: dict[str, Any], customer: dict[str, Any], lang: str,
                    category: str, depth: int, topic: str | None) -> dict[str, Any]:
        rng = self._rng
        is_dm = parent["kind"] == "dm"
        if is_dm:
            which = "dm"
        elif depth > 1:
            which = "followup"
        else:
            which = {"competitor": "question"}.get(category, category)
            if which == "question" and topic == "roaming":
                which = "roaming"
        name = customer.get("first")
        text = self._fill(
            rng.choice(C.CARE_REPLIES[lang][which]), lang,
            name=f" {name}" if name and rng.random() < 0.6 else "",
        )
        if not is_dm:
            text = f"@{customer['handle']} {text}"
        reply = self._emit(t, CARE_ACCOUNT, text, lang, kind="dm" if is_dm else "reply",
                           in_reply_to=parent["id"], outbound=True)
        if depth == 1 and rng.random() < 0.55:
            delay = min(3 * 3600.0, max(60.0, 60 * rng.lognormvariate(math.log(6.0), 0.8)))
            self._schedule(t + delay, "followup", (reply, customer, lang, is_dm, category))
        return reply

    def _customer_followup(self, t: float, parent: dict[str, Any], customer: dict[str, Any],
                           lang: str, is_dm: bool, category: str) -> dict[str, Any]:
        rng = self._rng
        mood = "bad" if rng.random() < 0.5 else "good"
        lines = C.FOLLOWUPS[lang]
        text = rng.choice(lines["unanswered"] if mood == "bad" and category in ("question", "competitor")
                          else lines[mood])
        if rng.random() < 0.1:
            text = _typo(rng, text)
        if not is_dm:
            text = f"@{C.CARE_HANDLE} {text}"
        post = self._emit(t, customer, text, lang, kind="dm" if is_dm else "reply",
                          in_reply_to=parent["id"])
        self._maybe_answer(t, post, customer, lang, mood, depth=2)
        return post

    def _emit(self, t: float, author: dict[str, Any], text: str, lang: str, *, kind: str = "post",
              in_reply_to: str | None = None, outbound: bool = False) -> dict[str, Any]:
        self._emitted += 1
        ident = f"demo-{self._emitted:06d}"
        created = self.start + timedelta(seconds=int(t))
        return {
            "id": ident,
            "text": text,
            "created_at": created.isoformat(timespec="seconds"),
            "author": {"id": author["id"], "handle": author["handle"], "name": author["name"],
                       "followers": author["followers"]},
            "in_reply_to": in_reply_to,
            "outbound": outbound,
            "kind": kind,
            "url": "" if kind == "dm" else POST_URL.format(handle=author["handle"], id=ident),
            "lang": lang,
        }


# ---- helpers ------------------------------------------------------------------------------------


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def _pick_lang(rng: random.Random) -> str:
    return rng.choices(LANGS, weights=LANG_WEIGHTS)[0]


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and (c.isalnum() or c == "_"))


def _typo(rng: random.Random, text: str) -> str:
    """One human slip: swapped, dropped or doubled letter, missing accents, or no capitals."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    how = rng.random()
    if how < 0.2:
        stripped = "".join(c for c in unicodedata.normalize("NFD", text)
                           if unicodedata.category(c) != "Mn")
        return unicodedata.normalize("NFC", stripped)
    if how < 0.3:
        return text.lower()
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    if how < 0.6:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif how < 0.8:
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _author_pools(rng: random.Random) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[float]]]:
    """Customers per language, most active first; weights fall off like Zipf's law."""
    taken = {C.CARE_HANDLE.lower(), C.MAIN_HANDLE.lower()}
    pools: dict[str, list[dict[str, Any]]] = {}
    weights: dict[str, list[float]] = {}
    serial = itertools.count(1)
    for lang in LANGS:
        pool = []
        for _ in range(POOL_SIZES[lang]):
            first = rng.choice(C.FIRST_NAMES[lang])
            last = rng.choice(C.LAST_NAMES[lang])
            style = rng.random()
            if style < 0.12:
                nick = rng.choice(C.NICKNAMES[lang])
                handle, name, shown_first = nick, nick.replace("_", " ").title(), None
            else:
                shown_first = first
                a, b = _ascii(first).lower(), _ascii(last).lower()
                handle = rng.choice((f"{a}{b}", f"{a}_{b}", f"{a}.{b}".replace(".", ""),
                                     f"{a[0]}{b}", f"{a}{rng.randint(1, 99)}", f"{b}_{a}",
                                     f"{a.capitalize()}{b.capitalize()}"))
                name = rng.choice((f"{first} {last}", f"{first} {last}", f"{first} {last[0]}.",
                                   first, f"{first} {rng.choice(('🌻', '⛰️', '🚲', '☕', '🇨🇭'))}",
                                   f"{first.lower()}"))
            base = handle
            while handle.lower() in taken:
                handle = f"{base}{rng.randint(1, 999)}"
            taken.add(handle.lower())
            followers = int(min(250_000, rng.lognormvariate(4.6, 1.5)))
            pool.append({"id": f"demo-u-{next(serial):05d}", "handle": handle, "name": name,
                         "followers": followers, "first": shown_first})
        for nlang, handle, name, followers in C.NOTABLE_ACCOUNTS:
            if nlang == lang:
                pool.insert(rng.randint(2, 12), {"id": f"demo-u-{next(serial):05d}",
                                                 "handle": handle, "name": name,
                                                 "followers": followers, "first": None})
        pools[lang] = pool
        weights[lang] = list(itertools.accumulate(1.0 / (i + 1) ** 0.85 for i in range(len(pool))))
    return pools, weights
