from django.apps import AppConfig


class ListeningConfig(AppConfig):
    name = "veille.listening"
    label = "listening"
    verbose_name = "Listening"
