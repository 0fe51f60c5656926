"""District-platform sync: the uplink worker that drains the outbox (``edge.store.outbox``),
the downlink of lists, and the protocols (JSON, GA/T 1400) and their transport."""
