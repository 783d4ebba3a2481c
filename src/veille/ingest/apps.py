from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "veille.ingest"
    label = "ingest"
    verbose_name = "Ingestion"
