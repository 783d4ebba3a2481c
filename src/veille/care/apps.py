from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "veille.care"
    label = "care"
    verbose_name = "Care desk"
