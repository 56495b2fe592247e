"""Appointments with prospects (consultation, test drive, handover) and the demo cars (docs/appointments.md)."""
