"""JSON Lines: the one reader of the project's record files, and appends that survive a writer
killed mid-line (metrics, synthesis stage records: both are appended to by runs that resume)."""
from __future__ import annotations

import json
import os
from typing import Iterator, TextIO


def iter_numbered_records(path: str | os.PathLike, torn_tail_ok: bool = False,
                          missing_ok: bool = False) -> Iterator[tuple[int, dict]]:
    """(line number, record) for every non-blank line of `path`, in order, read a line at a time
    (record files of a released dataset are larger than memory should hold).

    Each line must hold a JSON object; anything else is an error naming `path:line`. With
    torn_tail_ok, a last line that has no newline and is not JSON (a writer killed mid-line) is
    dropped instead: the one place a file being appended to may be cut. With missing_ok, a file
    that does not exist has no records (a stage that has not written yet); else it is an error.
    """
    if missing_ok and not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if torn_tail_ok and not line.endswith("\n"):
                    return
                raise ValueError(f"{path}:{number}: not JSON ({exc}): {line[:80]!r}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: a JSON {type(record).__name__}, not an object: {line[:80]!r}")
            yield number, record


def numbered_records(path: str | os.PathLike, torn_tail_ok: bool = False,
                     missing_ok: bool = False) -> list[tuple[int, dict]]:
    """All of `iter_numbered_records(path, ...)` as a list."""
    return list(iter_numbered_records(path, torn_tail_ok, missing_ok))


def read_jsonl(path: str | os.PathLike, torn_tail_ok: bool = False, missing_ok: bool = False) -> list[dict]:
    """The records of `path` (see numbered_records)."""
    return [record for _, record in numbered_records(path, torn_tail_ok, missing_ok)]


def open_append(path: str | os.PathLike) -> TextIO:
    """`path` opened for appending lines (line-buffered), after cutting a torn last line.

    A writer killed mid-line leaves text with no newline; appending to it would glue the next
    record onto the fragment and corrupt both. A last line that is whole JSON without its newline
    gets the newline instead.
    """
    if os.path.exists(path):
        with open(path, "rb+") as f:
            end = f.seek(0, os.SEEK_END)
            start = end
            while start > 0:  # back to the byte after the last newline
                f.seek(max(0, start - 65536))
                chunk = f.read(start - max(0, start - 65536))
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    start -= len(chunk) - cut - 1
                    break
                start -= len(chunk)
            if start < end:
                f.seek(start)
                try:
                    json.loads(f.read())
                    f.write(b"\n")
                except ValueError:
                    f.truncate(start)
    return open(path, "a", encoding="utf-8", buffering=1)
