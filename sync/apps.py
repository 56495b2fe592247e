from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _wake_relay(dealer_id: int) -> None:
    """After a change commits, queue a relay round for its dealership (crm.changes.change_recorded)."""
    from sync.outbound.tasks import wake

    wake(dealer_id)


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = _("Lead exchange")
    # `make run` starts the dealer-system simulator beside the web (crm/management/commands/demo_servers.py).
    demo_servers = {"simulator": "sync.simulator"}
    # `make backup` archives these folders beside the database dump (crm/backups.py): the file drop folders.
    backup_folders = ("sync.exchange.exchange_dir",)

    def ready(self) -> None:
        from crm import changes
        from crm.services import erasure
        from sync.inbound.erasure import scrub_erased_person

        if _wake_relay not in changes.change_recorded:
            changes.change_recorded.append(_wake_relay)
        if scrub_erased_person not in erasure.erasure_hooks:
            erasure.erasure_hooks.append(scrub_erased_person)
