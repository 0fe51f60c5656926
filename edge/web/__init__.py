"""The web app: factory, accounts, sessions and the shared request guards (issue 4)."""
