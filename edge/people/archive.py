"""Reading ZIP files from outside (a workbook is one, a folder of face photos is another)
without trusting them: no names that climb out of a folder, no zip bombs.

Nothing is ever extracted to disk: members are read into memory, each with a byte limit
enforced while reading (the sizes a ZIP declares can lie), after the whole directory was
checked against a member count, a total size and a compression ratio.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass

from edge.errors import UserError

MAX_RATIO = 200  # uncompressed/compressed: text compresses ~10x, photos ~1x; bombs 1000x+
_CHUNK = 1 << 16


class ArchiveError(UserError):
    """A ZIP refused before anything in it was used; ``code`` says why."""

    def __init__(self, code: str, message: str, params: dict | None = None) -> None:
        super().__init__(message, params or {}, code=code)


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int
    max_total: int  # bytes, uncompressed, all members together
    max_member: int  # bytes, uncompressed, one member


def unsafe_name(name: str) -> bool:
    """A member name that is absolute, climbs (``..``), uses a drive or backslash, or NUL."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    if len(name) > 2 and name[1] == ":":
        return True
    return any(part == ".." for part in name.split("/"))


def open_archive(
    data: bytes, limits: ArchiveLimits
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The ZIP and its file members, after every check that needs no decompression;
    ArchiveError naming the first member that fails one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArchiveError("not_zip", "not a ZIP file") from exc
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError("too_many_files", "more than %(n)s files", {"n": limits.max_members})
    total = 0
    files = []
    for info in infos:
        if unsafe_name(info.filename):
            raise ArchiveError("unsafe_name", "unsafe file name %(name)s", {"name": info.filename})
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError("unsafe_name", "symbolic link %(name)s", {"name": info.filename})
        if info.flag_bits & 0x1:
            raise ArchiveError("encrypted", "encrypted file %(name)s", {"name": info.filename})
        if info.is_dir():
            continue
        total += info.file_size
        if info.file_size > limits.max_member or total > limits.max_total:
            raise ArchiveError("too_large", "the files inside are too large")
        if info.file_size > _CHUNK and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ArchiveError(
                "zip_bomb", "%(name)s is compressed suspiciously well", {"name": info.filename}
            )
        files.append(info)
    return archive, files


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes, stopping with ArchiveError as soon as more than ``limit`` come
    out (whatever its header declared)."""
    chunks, size = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ArchiveError(
                        "zip_bomb", "%(name)s is larger than it says", {"name": info.filename}
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise ArchiveError(
            "bad_member", "%(name)s cannot be read", {"name": info.filename}
        ) from exc
    return b"".join(chunks)
