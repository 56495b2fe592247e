import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuotesConfig(AppConfig):
    name = "crm.quotes"
    label = "quotes"
    verbose_name = _("Quotes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # WeasyPrint narrates every rendering step at INFO; its warnings (a refused URL) still show.
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
        from crm.quotes.services import scrub_erased_person
        from crm.services import erasure

        # crm's erasure calls this without importing this app (docs/quotes.md); the subject access export
        # finds crm/quotes/personal_data.py by itself.
        if scrub_erased_person not in erasure.erasure_hooks:
            erasure.erasure_hooks.append(scrub_erased_person)
