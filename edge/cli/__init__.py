"""The ``menwei`` command line (entry point ``edge.cli.main:main``)."""
