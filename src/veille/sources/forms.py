"""Add or edit a source: what to follow, how to connect, how often to poll."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from veille.sources.models import Platform
from veille.sources.registry import CONNECTORS

# The secrets each platform's connector reads (see docs/sources/<platform>.md).
CREDENTIAL_FIELDS: dict[str, list[tuple[str, str]]] = {
    "mastodon": [("access_token", "Access token")],
    "bluesky": [("identifier", "Handle or e-mail"), ("app_password", "App password")],
    "x": [("access_token", "Access token"), ("refresh_token", "Refresh token"), ("client_id", "OAuth 2.0 client id"),
          ("client_secret", "OAuth 2.0 client secret"), ("consumer_key", "OAuth 1.0a consumer key"),
          ("consumer_secret", "OAuth 1.0a consumer secret"), ("access_token_secret", "OAuth 1.0a access token secret")],
    "rss": [("username", "User name (protected feeds)"), ("password", "Password (protected feeds)")],
    "facebook": [("page_access_token", "Page access token"), ("app_secret", "App secret")],
    "youtube": [("access_token", "Access token"), ("refresh_token", "Refresh token"), ("client_id", "Client id"),
                ("client_secret", "Client secret")],
}
ALL_CREDENTIAL_NAMES = sorted({name for fields in CREDENTIAL_FIELDS.values() for name, _label in fields})


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    platform = forms.ChoiceField(label=_("Platform"), choices=[(value, label) for value, label in Platform.choices if value in CONNECTORS])
    account_handle = forms.CharField(label=_("The brand's account on the platform"), max_length=200, required=False)
    follow = forms.CharField(
        label=_("What to follow"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One entry per line, e.g. notifications, hashtag:alpina, search:alpina telecom, list:123 (see the platform's documentation page)."),
    )
    base_url = forms.URLField(label=_("API address"), required=False, assume_scheme="https",
                              help_text=_("Only for a self-hosted instance or a test server; empty uses the platform's own."))
    poll_interval_s = forms.IntegerField(label=_("Poll every (seconds)"), min_value=10, max_value=86400, initial=60)
    advanced = forms.CharField(
        label=_("Advanced settings (JSON object)"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Platform options such as page_id, channel_id, tier, feeds."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        for name in ALL_CREDENTIAL_NAMES:
            platforms = [platform for platform, fields in CREDENTIAL_FIELDS.items() if name in dict(fields)]
            label = next(dict(CREDENTIAL_FIELDS[platform])[name] for platform in platforms)
            self.fields[f"credential_{name}"] = forms.CharField(
                label=label, required=False, strip=True,
                widget=forms.PasswordInput(attrs={"autocomplete": "off", "data-platforms": " ".join(platforms)}, render_value=False),
                help_text=_("Leave empty to keep the stored value.") if editing else "",
            )
        if editing:
            self.fields["platform"].disabled = True

    def clean_advanced(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("advanced", "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as error:
            raise forms.ValidationError(_("Not valid JSON: %(error)s"), params={"error": error}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Expected a JSON object, like {\"page_id\": \"123\"}."))
        return value

    def source_settings(self) -> dict[str, Any]:
        data = dict(self.cleaned_data["advanced"])
        follow = [line.strip() for line in self.cleaned_data.get("follow", "").splitlines() if line.strip()]
        if follow:
            data["follow"] = follow
        if self.cleaned_data.get("base_url"):
            data["base_url"] = self.cleaned_data["base_url"]
        handle = self.cleaned_data.get("account_handle", "").strip()
        platform = self.cleaned_data.get("platform")
        # Each connector names the brand's own account in its own setting.
        if handle and platform == "mastodon":
            data.setdefault("account", handle)
        elif handle and platform in {"bluesky", "x"}:
            data.setdefault("handle", handle.lstrip("@"))
        return data

    def credentials(self, platform: str) -> dict[str, str]:
        return {name: self.cleaned_data[f"credential_{name}"] for name, _label in CREDENTIAL_FIELDS.get(platform, [])
                if self.cleaned_data.get(f"credential_{name}")}

    @staticmethod
    def initial_for(source) -> dict[str, Any]:
        settings_data = dict(source.settings or {})
        follow = settings_data.pop("follow", [])
        base_url = settings_data.pop("base_url", "")
        return {
            "name": source.name, "platform": source.platform, "account_handle": source.account_handle,
            "follow": "\n".join(follow if isinstance(follow, list) else [str(follow)]), "base_url": base_url,
            "poll_interval_s": source.poll_interval_s,
            "advanced": json.dumps(settings_data, indent=2, ensure_ascii=False) if settings_data else "",
        }
