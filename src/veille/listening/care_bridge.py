"""What listening shows and does about the care desk, in one place. Listening works without the
care app (every function here then answers "nothing"), so care is imported only here, lazily."""

from __future__ import annotations

from typing import Any


def _care() -> tuple[Any, Any] | None:
    try:
        from veille.care import actions, queries
    except ImportError:
        return None
    return actions, queries


def care_available() -> bool:
    """The care app offers ``open_from_post(post, actor)``; without it the button is disabled."""
    care = _care()
    return care is not None and callable(getattr(care[0], "open_from_post", None))


def conversations_for_posts(workspace_id: int, post_ids: list[int]) -> dict[int, int]:
    """post id → its care conversation, for the posts on a page (one query)."""
    care = _care()
    return care[1].conversations_for_posts(workspace_id, post_ids) if care and post_ids else {}


def incidents_for_alerts(workspace_id: int, alert_ids: list[int]) -> dict[int, int]:
    """alert id → the care incident declared from it (one query)."""
    care = _care()
    return care[1].incidents_for_alerts(workspace_id, alert_ids) if care and alert_ids else {}
