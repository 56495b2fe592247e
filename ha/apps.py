from django.apps import AppConfig


class HaConfig(AppConfig):
    name = "ha"
    verbose_name = "High availability"
