"""The ingest hook: every batch of stored posts goes through care routing (``actions.route_posts``)."""

from __future__ import annotations

from datetime import datetime


def on_posts_stored(workspace_id: int, stored: list, now: datetime) -> None:
    from veille.care.actions import route_posts

    route_posts(workspace_id, stored, now)
