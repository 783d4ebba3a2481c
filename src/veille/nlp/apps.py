from django.apps import AppConfig


class NlpConfig(AppConfig):
    name = "veille.nlp"
    label = "nlp"
    verbose_name = "Language understanding"
