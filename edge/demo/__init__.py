"""``menwei demo``: the whole appliance on any machine — a pedestrian door and a vehicle
gate on mock pins over generated or replayed frames, a demo community, the console and the
reference district platform. ``run`` orchestrates; ``narration`` tells each decision."""
