"""Gate events: recorded with their outbox row in one transaction (``record``), written by a
gate without ever stopping it (``writer``, with ``spool`` for a storage fault), searched
(``search``), exported (``export``) and counted for the dashboard (``stats``)."""
