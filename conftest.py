"""Test-wide set-up that must happen before Django's settings load."""

import os

os.environ.setdefault("DJANGO_ENV", "test")
