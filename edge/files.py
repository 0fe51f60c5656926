"""Files that must survive a power cut: written, fsynced, renamed, and their folder fsynced.

A rename is only durable once the folder that holds the name is fsynced: on ext4 (and the
FAT/F2FS of many SD cards) a power cut right after ``os.replace`` can otherwise come back
with the old name, or none. Every file the box cannot lose (snapshots, the event spool,
backups, keys) goes through here.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make the names in ``folder`` (a create, a rename, a delete) durable. Raises OSError."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(target: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``target`` all-or-nothing: a temporary name, fsync, rename, then
    the folder fsynced. Raises OSError (the temporary file is removed)."""
    temporary = target.with_name(target.name + ".part")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
