from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "crm.appointments"
    label = "appointments"
    verbose_name = _("Appointments and demo cars")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.appointments.services import cancel_for_lost_lead, move_for_merge, scrub_erased_person
        from crm.services import erasure, leads, prospects

        # crm's lead service and erasure call these without importing this app (docs/appointments.md).
        if cancel_for_lost_lead not in leads.lead_lost_hooks:
            leads.lead_lost_hooks.append(cancel_for_lost_lead)
        if move_for_merge not in prospects.merge_hooks:
            prospects.merge_hooks.append(move_for_merge)
        if scrub_erased_person not in erasure.erasure_hooks:
            erasure.erasure_hooks.append(scrub_erased_person)
