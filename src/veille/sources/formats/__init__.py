"""File formats that ``veille import`` / ``veille replay`` read (see docs/formats.md).

Each format satisfies ``veille.sources.base.FileFormat``: ``read`` turns a binary stream into
``RawRecord``/``BadRecord`` without ever raising on bad data, ``normalize`` turns one stored
payload into a ``NormalizedPost`` or raises ``NormalizeError``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any, BinaryIO

from veille.sources.base import FileFormat

from .ndjson import NdjsonFormat
from .twcs import REQUIRED_COLUMNS, STANDARD_COLUMNS, TwcsFormat
from .xv2 import Xv2Format

FORMATS: dict[str, FileFormat] = {
    "twcs": TwcsFormat(),
    "ndjson": NdjsonFormat(),
    "xv2": Xv2Format(),
}

GZIP_MAGIC = b"\x1f\x8b"
# How much of a file sniff_format looks at.
SNIFF_BYTES = 64 * 1024


def get_format(name: str, **options: Any) -> FileFormat:
    """The registered format, or a new one of its kind set up with ``options``
    (e.g. ``get_format("xv2", own_handle="AlpinaCare")``)."""
    try:
        fmt = FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown file format {name!r} (known formats: {known})") from None
    if not options:
        return fmt
    try:
        return type(fmt)(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for the {name} format: {exc}") from None


def open_input(path: Path | str) -> BinaryIO:
    """Open a file for reading as bytes, gunzipping it when it starts with the gzip magic.

    The extension does not matter: a ``.gz`` file that is not gzip is read as is, and a gzip file
    without ``.gz`` is decompressed.
    """
    path = Path(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, expected a file") from None
    except PermissionError:
        raise PermissionError(f"not allowed to read {path}") from None
    try:
        magic = raw.read(2)
        raw.seek(0)
    except OSError as exc:
        raw.close()
        raise ValueError(f"cannot read {path}: {exc}") from None
    if magic != GZIP_MAGIC:
        return raw
    raw.close()
    # gzip.open on the path makes closing the reader close the file too.
    return io.BufferedReader(_Gunzip(gzip.open(path, "rb")), buffer_size=256 * 1024)


class _Gunzip(io.RawIOBase):
    """A raw stream over GzipFile, so a BufferedReader can do the line splitting in C
    (GzipFile.readline is Python code). ``read1`` hands over what was decompressed so far, so
    a truncated file still yields every line before the break."""

    def __init__(self, gz: gzip.GzipFile) -> None:
        self._gz = gz

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        data = self._gz.read1(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
        super().close()


def sniff_format(path: Path | str) -> str:
    """Guess a file's format from its first bytes: ``"twcs"``, ``"xv2"`` or ``"ndjson"``."""
    with open_input(path) as stream:
        try:
            head = stream.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    expected = (
        "expected a TWCS CSV header (" + ",".join(STANDARD_COLUMNS) + "), an X API v2 JSON"
        ' document with "data", or one JSON object per line (ndjson)'
    )
    if not text:
        raise ValueError(f"{path} is empty: {expected}")
    first_line = text.split("\n", 1)[0].strip()
    if text[0] in "{[":
        try:
            value = json.loads(first_line)
        except ValueError:
            # A document spread over lines (pretty-printed): look at its first keys.
            body = text[1:].lstrip() if text[0] == "[" else text
            body = body.lstrip("{ \t\r\n")
            if body.startswith(('"data"', '"includes"', '"meta"', '"errors"')):
                return "xv2"
            raise ValueError(f"{path} starts like JSON but its first line is not: {expected}") from None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = value[0]
        if isinstance(value, dict):
            if "data" in value or ("meta" in value and "result_count" in value.get("meta", {})):
                return "xv2"
            return "ndjson"
        raise ValueError(f"{path} starts with a JSON {type(value).__name__}: {expected}")
    try:
        row = next(csv.reader([first_line]))
    except (csv.Error, StopIteration):
        row = []
    header = [c.strip() for c in row]
    if all(c in header for c in REQUIRED_COLUMNS):
        return "twcs"
    if TwcsFormat._looks_headerless(row):
        return "twcs"
    raise ValueError(f"could not recognise the format of {path}: {expected}")


__all__ = [
    "FORMATS",
    "NdjsonFormat",
    "TwcsFormat",
    "Xv2Format",
    "get_format",
    "open_input",
    "sniff_format",
]
