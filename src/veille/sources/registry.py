"""One registry of platforms: name → connector class, imported lazily so a platform's client
library is only loaded when a source of that platform exists."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# platform → "module:Class"; each module lives in its own sub-package of ``veille.sources``.
CONNECTORS: dict[str, str] = {
    "mastodon": "veille.sources.mastodon.connector:MastodonConnector",
    "bluesky": "veille.sources.bluesky.connector:BlueskyConnector",
    "x": "veille.sources.x.connector:XConnector",
    "rss": "veille.sources.rss.connector:RssConnector",
    "facebook": "veille.sources.facebook.connector:FacebookConnector",
    "youtube": "veille.sources.youtube.connector:YoutubeConnector",
}


def connector_class(platform: str) -> Any:
    try:
        target = CONNECTORS[platform]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise ValueError(f"unknown platform {platform!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def normalizer(platform: str, settings: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """The platform's payload → post function, set up from the source's settings alone.

    Normalising never needs credentials or a network connection, so the ingest workers call
    these functions directly instead of building a connector.
    """
    if platform == "mastodon":
        from veille.sources.mastodon.normalize import normalize_status

        own_acct = str(settings.get("account") or "")
        return lambda payload: normalize_status(payload, own_acct)
    if platform == "bluesky":
        from veille.sources.bluesky.normalize import normalize_post

        handle, did = str(settings.get("handle") or "").lstrip("@"), str(settings.get("did") or "")
        return lambda payload: normalize_post(payload, handle, did)
    if platform == "rss":
        from veille.sources.rss.normalize import normalize_entry

        return normalize_entry
    if platform in {"x", "facebook", "youtube"}:
        module = importlib.import_module(f"veille.sources.{platform}.normalize")
        return module.normalize_payload
    raise ValueError(f"unknown platform {platform!r}")
