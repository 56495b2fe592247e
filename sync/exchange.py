"""The exchange folders shared with dealer systems (docs/files.md), opened without ever following a link.

Dealer systems write into ``<root>/<dealer number>/inbound/`` and read ``<root>/<dealer number>/outbound/``,
so everything below the root may have been planted by someone else. Hence:

- every folder below the root is opened one component at a time, relative to its parent's descriptor,
  with ``O_NOFOLLOW | O_DIRECTORY``: a symbolic link anywhere in the path is refused, and names are
  single components (no ``/``, ``..`` or ``.``), so nothing resolves outside the dealer's folder;
- a file is read only if ``lstat`` says it is a regular file with one link, and again after opening it
  with ``O_NOFOLLOW | O_NONBLOCK``: ``fstat`` on the descriptor must show a regular file with one link
  and the same inode, so a link, FIFO, device or hard link swapped in between check and open is refused;
- renames and writes go through directory descriptors; a file is written to a fresh temporary name
  (``O_CREAT | O_EXCL | O_NOFOLLOW``) and renamed over the target, which replaces a planted link instead
  of writing through it.

The root itself (``SYNC_EXCHANGE_DIR``) is the operator's choice and may be a link (a mount point, say).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from django.conf import settings

from sync import knobs

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE = 0o640
FOLDER_MODE = 0o750


class UnsafeEntry(Exception):
    """An entry that is not what it must be (a link, a FIFO, a device, a hard-linked file, ...); it was not used."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(f"{name}: {what}")
        self.name = name
        self.what = what


class TooLarge(Exception):
    """A file larger than the limit; nothing of it beyond the limit was read."""


def exchange_dir() -> Path:
    """The root, ``SYNC_EXCHANGE_DIR`` (``sync.knobs``); by default ``.var/exchange`` in the project."""
    return Path(knobs.text("SYNC_EXCHANGE_DIR") or Path(settings.BASE_DIR) / ".var" / "exchange")


def dealer_dir(dealer_number: str, side: str) -> Path:
    """``<root>/<dealer number>/<side>`` (``inbound`` or ``outbound``): the folder ``Folder.open(dealer_number, side)``
    opens, by name for messages and tests; never open it by this path (links)."""
    return exchange_dir() / dealer_number / side


def _check_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise UnsafeEntry(name, "not a plain name")
    return name


def describe(mode: int, nlink: int = 1) -> str:
    """What an entry is, in the words of a report; '' for a regular file with one link."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if nlink != 1:
        return "a file with other hard links"
    return ""


@dataclass(frozen=True)
class Entry:
    name: str
    mode: int
    nlink: int
    mtime: float
    dev: int
    ino: int

    @property
    def problem(self) -> str:
        return describe(self.mode, self.nlink)


class Folder:
    """An open folder below the exchange root; use as a context manager (closes its descriptor)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path  # for messages and the run's ``stored_path``; never opened by name

    @classmethod
    def open(cls, *parts: str, create: bool = False) -> Folder:
        """``<root>/<parts...>``; ``UnsafeEntry`` when a component is a link or not a folder."""
        root = exchange_dir()
        if create:
            root.mkdir(parents=True, exist_ok=True)
        folder = cls(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), root)
        try:
            for part in parts:
                child = folder.sub(part, create=create)
                folder.close()
                folder = child
        except BaseException:
            folder.close()
            raise
        return folder

    def sub(self, name: str, *, create: bool = False) -> Folder:
        """The folder ``name`` in this one, never through a link; created when missing if ``create``."""
        _check_name(name)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):  # created concurrently (or planted: the open below decides)
                os.mkdir(name, FOLDER_MODE, dir_fd=self.fd)
            return self.sub(name)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise UnsafeEntry(name, self._what(name) or "not a folder") from error
            raise
        return Folder(fd, self.path / name)

    def _what(self, name: str) -> str:
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except OSError:
            return ""
        return describe(st.st_mode, st.st_nlink)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def entries(self) -> list[Entry]:
        """Every entry, as ``lstat`` sees it (links are not followed), sorted by name."""
        found = []
        with os.scandir(self.fd) as listing:
            for item in listing:
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # taken by another worker meanwhile
                found.append(Entry(item.name, st.st_mode, st.st_nlink, st.st_mtime, st.st_dev, st.st_ino))
        return sorted(found, key=lambda e: e.name)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(_check_name(name), dir_fd=self.fd, follow_symlinks=False)

    def read_regular(self, name: str, *, limit: int) -> bytes:
        """The content of regular file ``name``; ``UnsafeEntry`` for anything else, ``TooLarge`` over ``limit``."""
        before = self.lstat(name)
        problem = describe(before.st_mode, before.st_nlink)
        if problem:
            raise UnsafeEntry(name, problem)
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=self.fd)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.EMLINK):
                raise UnsafeEntry(name, self._what(name) or "not a regular file") from error
            raise
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(fd)
            problem = describe(st.st_mode, st.st_nlink)
            if problem:
                raise UnsafeEntry(name, problem)
            if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
                raise UnsafeEntry(name, "replaced while being opened")
            if st.st_size > limit:
                raise TooLarge(name)
            content = handle.read(limit + 1)
        if len(content) > limit:
            raise TooLarge(name)
        return content

    def rename(self, name: str, to: Folder, new_name: str) -> None:
        """Move the entry itself (a link stays a link); fails rather than replacing an existing entry."""
        _check_name(name)
        _check_name(new_name)
        try:
            os.stat(new_name, dir_fd=to.fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            raise FileExistsError(errno.EEXIST, "exists", new_name)
        os.rename(name, new_name, src_dir_fd=self.fd, dst_dir_fd=to.fd)

    def write_atomically(self, name: str, data: bytes) -> None:
        """Write to a fresh temporary name, flush to disk, rename over ``name``: readers never see half a file,
        and a link planted at ``name`` is replaced, never written through."""
        _check_name(name)
        tmp = f".tmp-{secrets.token_hex(8)}.part"
        fd = os.open(tmp, _WRITE_FLAGS, FILE_MODE, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=self.fd)
            raise
