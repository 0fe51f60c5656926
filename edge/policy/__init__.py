"""The gates' rules as pure functions: a sighting, the facts the box holds about it and the
time go in, a decision with its reasons comes out. ``vehicle`` decides for plates at a
barrier, ``person`` for faces, PINs and passes at a door. No database, no hardware."""
