from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

# What a platform calls a repost, for the button.
REPOST_LABELS = {"mastodon": _("Boost"), "x": _("Retweet"), "bluesky": _("Repost")}


@register.inclusion_tag("listening/_post_actions.html", takes_context=True)
def post_actions(context, post):
    caps = context.get("capabilities", {}).get(post.source.platform, frozenset())
    return {
        "post": post, "can_act": context.get("can_act", False), "care_available": context.get("care_available", False),
        "care_conversation_id": context.get("care_links", {}).get(post.id),
        # Where the forms return to: the page (posts rendered for a live stream say which page).
        "next": context.get("next") or (context["request"].get_full_path() if context.get("request") else ""),
        "can_reply": "act.reply" in caps, "can_like": "act.like" in caps, "can_repost": "act.repost" in caps,
        "can_hide": "act.hide" in caps, "repost_label": REPOST_LABELS.get(post.source.platform, _("Repost")),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def get_item(mapping, key):
    """``{{ mapping|get_item:key }}``: templates cannot index a dict by a variable."""
    return mapping.get(key) if hasattr(mapping, "get") else None
