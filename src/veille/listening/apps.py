from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ListeningConfig(AppConfig):
    name = "veille.listening"
    label = "listening"
    verbose_name = _("Listening")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from veille.ingest.pipeline import POST_STORE_HOOKS
        from veille.listening.matching import on_posts_stored

        if on_posts_stored not in POST_STORE_HOOKS:
            POST_STORE_HOOKS.append(on_posts_stored)
