from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "veille.care"
    label = "care"
    verbose_name = "Care desk"

    def ready(self) -> None:
        from veille.care.columns import CareQueueColumn
        from veille.care.routing import on_posts_stored
        from veille.ingest.pipeline import POST_STORE_HOOKS
        from veille.listening.columns import COLUMN_KINDS, register

        if on_posts_stored not in POST_STORE_HOOKS:
            POST_STORE_HOOKS.append(on_posts_stored)
        # The listening board offers care queues as columns.
        if CareQueueColumn.key not in COLUMN_KINDS:
            register(CareQueueColumn())
