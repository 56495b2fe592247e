"""WSGI entry point: ``gunicorn crm.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
# Web requests get the web database timeouts from their first query on (settings DATABASE_TIMEOUTS).
os.environ.setdefault("CRM_WEB_PROCESS", "1")

application = get_wsgi_application()

# Each web process tells the cluster view it is alive (ha.nodes; off when HA_NODE_HEARTBEAT_SECONDS is 0).
from ha.nodes import start_heartbeat  # noqa: E402 -- needs the app registry get_wsgi_application set up

start_heartbeat("web")
