"""The web app: the factory (``app``), the request helpers below it (``context``, ``access``),
accounts and sessions, the shared request guards, and the blueprints: ``console/`` for
guards, admins, police and residents, ``registry/`` for tenants, landlords and police."""
