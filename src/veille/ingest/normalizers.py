"""Which code turns a stored payload into a post: a file format or a platform connector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veille.sources.base import NormalizedPost

Normalizer = Callable[[dict[str, Any]], NormalizedPost]


def normalizer_for(format_name: str, source_settings: dict[str, Any], account_handle: str = "") -> Normalizer:
    from veille.sources.formats import FORMATS, get_format
    from veille.sources.registry import CONNECTORS, normalizer

    if format_name == "xv2" and account_handle:
        # Posts by the source's own account are outbound (the brand's replies).
        return get_format("xv2", own_handle=account_handle.lstrip("@")).normalize
    if format_name in FORMATS:
        return FORMATS[format_name].normalize
    if format_name in CONNECTORS:
        return normalizer(format_name, source_settings)
    raise ValueError(f"no normalizer for format {format_name!r}")
