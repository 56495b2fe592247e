from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    """E-mail from the CRM: templates, sending to prospects, replies by SMTP (docs/messaging.md)."""

    name = "crm.messaging"
    label = "messaging"
    verbose_name = _("E-mail")
    default_auto_field = "django.db.models.BigAutoField"
    # `make run` starts the reply intake (SMTP) beside the web (crm/management/commands/demo_servers.py).
    demo_servers = {"mail_intake": "crm.messaging.intake_server"}

    def ready(self) -> None:
        from crm.messaging.erasure import scrub_erased_person
        from crm.services import erasure

        if scrub_erased_person not in erasure.erasure_hooks:
            erasure.erasure_hooks.append(scrub_erased_person)
