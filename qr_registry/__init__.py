"""Rooms, QR tokens and tenant registration: the tenant form's validation, the
registration lifecycle, search and exports, and door stickers (their pages are
``edge.web.registry``)."""
