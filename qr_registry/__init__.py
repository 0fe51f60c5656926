"""Rooms, QR tokens and tenant registration (built in a later issue)."""
