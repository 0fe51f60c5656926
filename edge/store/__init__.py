"""The box's storage: opening it from config (``open``), and the outbox its producers write
in their own transactions (``outbox``), which the sync worker drains."""
