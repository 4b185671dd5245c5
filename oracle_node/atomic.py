"""Writing a user-named output file without ever destroying what was there.

`atomic_write(path)` yields a file in the same directory under a temporary name; only when the block
ends without an exception is it flushed, fsynced and renamed over `path` (`os.replace`, atomic on one
file system). A crash or an error leaves the previous file untouched and removes the temporary one
(a SIGKILL may leave a `.NAME.*.tmp` beside it, never a truncated NAME).

`refuse_overwrite` stops a command whose output would replace one of its own inputs
(`replay --ticks t.csv --out t.csv`) before anything is read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from oracle_node.errors import DataError

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS, errno.EPIPE}


@contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it over `path` on success only."""
    target = Path(path)
    if "b" in mode:
        encoding = None
    if target.is_dir():
        raise DataError(str(target), None, None, None, "is a directory; give a file path")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as umask allows
    except OSError as exc:
        raise DataError(str(target), None, None, None, f"cannot write ({_reason(exc)})") from None
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            try:
                yield fh
            except OSError as exc:
                if exc.errno not in _WRITE_ERRNOS:
                    raise  # not a write failure: the caller's own error, unchanged
                raise DataError(
                    str(target), None, None, str(target), f"cannot write ({_reason(exc)})"
                ) from None
            _commit(fh, target, tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _commit(fh: IO[Any], target: Path, tmp: Path) -> None:
    try:
        fh.flush()
        os.fsync(fh.fileno())
        _keep_mode(target, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise DataError(str(target), None, None, None, f"cannot write ({_reason(exc)})") from None


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_write(path, encoding=encoding) as fh:
        fh.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def _keep_mode(target: Path, tmp: Path) -> None:
    """Replacing an existing file keeps its permission bits."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def refuse_overwrite(outputs: Iterable[Path], inputs: Mapping[str, Path | None]) -> None:
    """DataError when an output path is one of the inputs (same file, however it is spelled)."""
    for out in outputs:
        for flag, given in inputs.items():
            if given is not None and _same(out, given):
                raise DataError(
                    str(out),
                    None,
                    "--out",
                    None,
                    f"is the input {flag} {given}; refusing to overwrite it",
                )


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
