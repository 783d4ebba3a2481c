from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from veille.listening.models import AuthorList, EventWindow, SavedSearch
from veille.listening.query import QuerySyntaxError, compile_query


def query_error_message(error: QuerySyntaxError) -> str:
    text, expected = error.localized()
    message = gettext("Position %(position)s: %(message)s.") % {"position": error.position + 1, "message": text}
    if expected:
        message += " " + gettext("Expected: %(expected)s.") % {"expected": expected}
    return message


class SavedSearchForm(forms.ModelForm):
    webhook_url = forms.URLField(label=_("webhook URL"), required=False, max_length=500, assume_scheme="https",
                                 help_text=_("Alerts are POSTed as JSON, signed with HMAC-SHA256 (header X-Veille-Signature)."))

    class Meta:
        model = SavedSearch
        fields = [
            "name", "query", "is_active", "spike_enabled", "spike_window_min", "spike_baseline_windows", "spike_sensitivity",
            "spike_min_count", "cooldown_min", "dip_enabled", "dip_window_min", "dip_sensitivity", "dip_min_count",
            "alert_emails", "webhook_url",
        ]
        widgets = {"query": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})}
        help_texts = {
            "query": _('Words, "exact phrases", #hashtags, @mentions, from:, list:, lang:, sentiment:, source:, AND OR NOT -, ( ), prefix*, NEAR/n.'),
            "alert_emails": _("Comma-separated addresses."),
            "webhook_url": _("Alerts are POSTed as JSON, signed with HMAC-SHA256 (header X-Veille-Signature)."),
        }

    def clean_query(self) -> str:
        query = self.cleaned_data["query"]
        try:
            compile_query(query)
        except QuerySyntaxError as error:
            raise forms.ValidationError(query_error_message(error)) from None
        return query

    def clean(self):
        cleaned = super().clean()
        for field, low, high in (("spike_window_min", 1, 1440), ("spike_baseline_windows", 3, 200), ("dip_window_min", 1, 1440),
                                 ("cooldown_min", 0, 10080)):
            value = cleaned.get(field)
            if value is not None and not low <= value <= high:
                self.add_error(field, _("Between %(low)s and %(high)s.") % {"low": low, "high": high})
        for field in ("spike_sensitivity", "dip_sensitivity"):
            value = cleaned.get(field)
            if value is not None and not 0 < value <= 20:
                self.add_error(field, _("Between %(low)s and %(high)s.") % {"low": 0, "high": 20})
        return cleaned


class AuthorListForm(forms.ModelForm):
    class Meta:
        model = AuthorList
        fields = ["name", "is_private"]


class HandlesForm(forms.Form):
    handles = forms.CharField(label=_("Handles"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("One per line or separated by commas; @ is optional."))
    csv_file = forms.FileField(label=_("or a CSV file of handles"), required=False)

    def clean_csv_file(self):
        upload = self.cleaned_data.get("csv_file")
        if upload and upload.size > 2_000_000:
            raise forms.ValidationError(_("The file is too large (2 MB at most)."))
        return upload


class EventForm(forms.ModelForm):
    class Meta:
        model = EventWindow
        fields = ["name", "starts_at", "ends_at"]
        widgets = {"starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                   "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("starts_at") and cleaned.get("ends_at") and cleaned["ends_at"] <= cleaned["starts_at"]:
            self.add_error("ends_at", _("The event must end after it starts."))
        return cleaned
