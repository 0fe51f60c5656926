"""District-platform sync: the durable outbox and, later, its uplink/downlink worker."""
