"""Messages of Django, Django REST framework and django-otp that the project translates itself.

Their own German catalogues address the reader informally ("Gib ...", "Stelle sicher ..."), next to the
formal "Sie" of every page of this product. The project's catalogue (LOCALE_PATHS) comes first, so a
formal translation there wins; listing the messages here keeps ``makemessages`` from dropping them.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

FORMAL_OVERRIDES: tuple[str, ...] = (
    gettext_noop("Duration has wrong format. Use one of these formats instead: {format}."),
    gettext_noop("Ensure that there are no more than {max_decimal_places} decimal places."),
    gettext_noop("Ensure that there are no more than {max_digits} digits in total."),
    gettext_noop("Ensure that there are no more than {max_whole_digits} digits before the decimal point."),
    gettext_noop("Ensure this field has at least {min_length} characters."),
    gettext_noop("Ensure this field has no more than {max_length} characters."),
    gettext_noop("Ensure this filename has at most {max_length} characters (it has {length})."),
    gettext_noop("Ensure this value is greater than or equal to {min_value}."),
    gettext_noop("Ensure this value is less than or equal to {max_value}."),
    gettext_noop('Enter a valid "slug" consisting of Unicode letters, numbers, underscores, or hyphens.'),
    gettext_noop('Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'),
    gettext_noop("Enter a valid IPv4 or IPv6 address."),
    gettext_noop("Enter a valid URL."),
    gettext_noop("Enter a valid email address."),
    gettext_noop("Forgotten your password or username?"),
)
