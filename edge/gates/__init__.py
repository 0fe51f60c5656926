"""Gates: the runner both gate kinds share, and each kind's read → decide → act."""
