"""Blueprints of the registry: tenant pages (public), landlord console, police/grid console."""
