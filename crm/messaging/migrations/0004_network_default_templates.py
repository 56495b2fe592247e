"""Two network-wide templates of the manufacturer to start from (admin: E-mail templates), German and English."""

from typing import Any

from django.db import migrations

DEFAULTS = [
    {
        "name": "Antwort auf Ihre Anfrage",
        "purpose": "service",
        "subject_de": "Ihre Anfrage bei {{ dealer.name }}",
        "body_de": (
            "Guten Tag {{ prospect.salutation_name }},\n\n"
            "vielen Dank für Ihr Interesse am {{ lead.model_name }}. Gern beantworte ich Ihre Fragen "
            "und vereinbare mit Ihnen einen Termin für eine Probefahrt.\n\n"
            "Mit freundlichen Grüßen\n{{ salesperson.name }}\n{{ dealer.name }}\n{{ dealer.phone }}"
        ),
        "subject_en": "Your enquiry at {{ dealer.name }}",
        "body_en": (
            "Dear {{ prospect.salutation_name }},\n\n"
            "thank you for your interest in the {{ lead.model_name }}. I am happy to answer your questions "
            "and to arrange a test drive with you.\n\n"
            "Kind regards\n{{ salesperson.name }}\n{{ dealer.name }}\n{{ dealer.phone }}"
        ),
    },
    {
        "name": "Neuheiten und Angebote",
        "purpose": "marketing",
        "subject_de": "Neuheiten bei {{ dealer.name }}",
        "body_de": (
            "Guten Tag {{ prospect.salutation_name }},\n\n"
            "bei uns gibt es Neues, das Sie interessieren könnte. Besuchen Sie uns oder rufen Sie uns an: "
            "{{ dealer.phone }}.\n\n"
            "Mit freundlichen Grüßen\n{{ salesperson.name }}\n{{ dealer.name }}"
        ),
        "subject_en": "What's new at {{ dealer.name }}",
        "body_en": (
            "Dear {{ prospect.salutation_name }},\n\n"
            "we have news you may like. Visit us or give us a call: {{ dealer.phone }}.\n\n"
            "Kind regards\n{{ salesperson.name }}\n{{ dealer.name }}"
        ),
    },
]


def add(apps: Any, schema_editor: Any) -> None:
    EmailTemplate = apps.get_model("messaging", "EmailTemplate")
    for entry in DEFAULTS:
        EmailTemplate.objects.get_or_create(dealer=None, name=entry["name"], defaults=entry)


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("messaging", "EmailTemplate").objects.filter(
        dealer=None, name__in=[entry["name"] for entry in DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0003_unique_without_pattern_index")]

    operations = [migrations.RunPython(add, remove)]
