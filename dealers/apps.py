from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class DealersConfig(AppConfig):
    name = "dealers"
    verbose_name = _("Dealer network")

    def ready(self) -> None:
        from dealers import rls
        from dealers.roles import ensure_manufacturer_groups

        # The database tenancy setting follows requests, tasks, commands and migrations (dealers.rls).
        rls.connect_signals()

        # Groups reference permissions of every app, which exist only after all migrations ran.
        post_migrate.connect(ensure_manufacturer_groups, dispatch_uid="dealers.manufacturer_groups")
