from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "veille.accounts"
    label = "accounts"
    verbose_name = "Accounts"
