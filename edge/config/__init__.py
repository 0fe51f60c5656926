"""The appliance's one config file, validated into typed, frozen models before anything
starts (a leaf: it imports nothing that opens a database or touches hardware).

Every section derives from ``base.StrictModel``; a typo'd key or a bad value stops the
program with the key path and the reason. The face below is what most callers need; a
section's own model is imported from its module (``edge.config.pedestrian.LockConfig``).
"""

from edge.config.gates import GateConfig
from edge.config.loading import DEFAULT_CONFIG_PATH, ConfigError, load_config, parse_config
from edge.config.menwei import MenweiConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "GateConfig",
    "MenweiConfig",
    "load_config",
    "parse_config",
]
