"""Reminders and notifications: the header's bell, the notification list, e-mail (immediate or a daily digest)."""
