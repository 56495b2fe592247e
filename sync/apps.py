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

    def ready(self) -> None:
        from crm import changes

        if _wake_relay not in changes.change_recorded:
            changes.change_recorded.append(_wake_relay)
