"""Hardware: relays, inputs and cameras. Knows nothing of residents, policy or the database."""
