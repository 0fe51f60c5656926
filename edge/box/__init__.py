"""The box as a machine: installing it, its systemd watchdog, health for the console,
retention of what it stores, and backups."""
