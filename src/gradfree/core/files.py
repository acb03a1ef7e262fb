"""Files that may come from anyone: bounded reads of regular files, writes that never follow a link.

Model files, checkpoints and run folders are untrusted input (a run folder may have been unpacked from
an archive someone sent). Two rules keep that safe:

* **reading** opens the file without following a symbolic link and without blocking (a FIFO would hang
  a plain ``open``), checks that it is a regular file and reads at most ``max_bytes`` of it, so a link
  to ``/dev/zero``, a FIFO, a directory or a huge sparse file is an :class:`UnsafeFileError`, never a
  hang or an exhausted memory;
* **writing** goes through a fresh temporary created with ``O_EXCL | O_NOFOLLOW`` beside the target and
  is renamed over it: an existing link at the target is replaced, never followed. Given a ``root``
  (a run folder), every directory between the root and the file is opened without following links, and
  a link or a non-directory in their place is replaced by a real directory, so nothing is written
  outside the root.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

#: The default cap on a file read whole (checkpoints and a model's JSON are far smaller).
DEFAULT_MAX_BYTES = 64 * 2**20

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafeFileError(OSError):
    """A file that is not a regular file, or is larger than allowed; the message names it."""


def _describe(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a link")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of regular file ``path``, at most ``max_bytes`` of them.

    Raises ``FileNotFoundError`` when nothing is there and :class:`UnsafeFileError` for a symbolic link,
    anything that is not a regular file, or a file larger than ``max_bytes``.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeFileError(f"{path}: is a symbolic link; refusing to follow it") from None
        raise UnsafeFileError(f"{path}: cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"{path}: is {_describe(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise UnsafeFileError(f"{path}: is {info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        chunks, total = [], 0
        while True:  # the size may change while we read: the cap holds regardless
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise UnsafeFileError(f"{path}: grew past the {max_bytes:,} bytes allowed while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8 (``UnicodeDecodeError`` if it is not)."""
    return read_bytes(path, max_bytes).decode("utf-8")


def _open_dir(parent_fd: int, name: str) -> int:
    """Open directory ``name`` under ``parent_fd`` without following a link; make it if missing, and
    replace whatever non-directory (a link included) sits in its place."""
    flags = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC
    for _ in range(3):
        try:
            return os.open(name, flags, dir_fd=parent_fd)
        except FileNotFoundError:
            try:
                os.mkdir(name, 0o777, dir_fd=parent_fd)
            except FileExistsError:
                pass
        except OSError:  # a link, a file, a FIFO... in the place of a directory: remove it (not its target)
            os.unlink(name, dir_fd=parent_fd)
    raise UnsafeFileError(f"cannot make directory {name!r}: it keeps being replaced")


def _parent_fd(path: Path, root: Path | None) -> tuple[int, str]:
    """An open descriptor of ``path``'s directory, reached from ``root`` without following links."""
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC), path.name
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        raise UnsafeFileError(f"{path}: outside the folder {root}; refusing to write it") from None
    parts = rel.parts
    if not parts or any(p in ("..", ".") for p in parts):
        raise UnsafeFileError(f"{path}: not a file inside {root}")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    for part in parts[:-1]:
        try:
            nxt = _open_dir(fd, part)
        finally:
            os.close(fd)
        fd = nxt
    return fd, parts[-1]


def write_bytes_atomic(path: str | Path, data: bytes, *, root: str | Path | None = None,
                       mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` atomically, never through a link and (given ``root``) never outside it.

    The bytes go to a fresh temporary beside the target (``O_CREAT | O_EXCL | O_NOFOLLOW``), which is
    then renamed over the target: readers see the old file or the new one, a link at the target is
    replaced rather than followed, and a directory squatting the target's name is removed first.
    ``mode`` is filtered by the umask like any new file.
    """
    dfd, name = _parent_fd(Path(path), Path(root) if root is not None else None)
    tmp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        try:
            info = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _remove_dir(dfd, name)
        except FileNotFoundError:
            pass
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise
    finally:
        os.close(dfd)


def _remove_dir(dfd: int, name: str) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dfd)
    try:
        _rmtree_fd(fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)


def _rmtree_fd(fd: int) -> None:
    """Empty the directory open as ``fd`` without following any link inside it."""
    for entry in os.scandir(fd):
        if entry.is_dir(follow_symlinks=False):
            sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            try:
                _rmtree_fd(sub)
            finally:
                os.close(sub)
            os.rmdir(entry.name, dir_fd=fd)
        else:
            os.unlink(entry.name, dir_fd=fd)


def write_text_atomic(path: str | Path, text: str, *, root: str | Path | None = None) -> None:
    """:func:`write_bytes_atomic` of ``text`` in UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"), root=root)


def safe_mkdir(path: str | Path, *, root: str | Path) -> Path:
    """Make directory ``path`` inside ``root`` (and the ones between) without following any link."""
    path = Path(path)
    fd, name = _parent_fd(path / "_", Path(root))
    os.close(fd)
    return path
