"""The box's storage: opening it from config (``open``), the outbox its producers write in
their own transactions (``outbox``), which the sync worker drains, and the snapshot JPEGs
written before their event (``snapshots``)."""
