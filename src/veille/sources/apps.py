from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "veille.sources"
    label = "sources"
    verbose_name = "Sources"
