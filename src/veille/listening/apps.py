from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ListeningConfig(AppConfig):
    name = "veille.listening"
    label = "listening"
    verbose_name = _("Listening")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from veille.ingest.pipeline import POST_STORE_HOOKS, PREPARE_HOOKS
        from veille.listening.matching import annotate, incident_matcher, on_posts_stored

        if annotate not in PREPARE_HOOKS:
            PREPARE_HOOKS.append(annotate)
        if on_posts_stored not in POST_STORE_HOOKS:
            POST_STORE_HOOKS.append(on_posts_stored)
        # Incidents declared from an alert match with the saved search's own query language
        # (listening works without the care app, as its views do).
        try:
            from veille.care import matching as care_matching
        except ImportError:
            return
        care_matching.register("listening", incident_matcher)
