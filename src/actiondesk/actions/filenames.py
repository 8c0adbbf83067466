"""File names that are safe to show, store and send in a Content-Disposition header."""

from __future__ import annotations

import unicodedata


def safe_filename(name: str, fallback: str = "file") -> str:
    """A file name without directories, control characters or leading dots."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '"<>:|?*')
    name = name.strip().lstrip(".").strip()
    return name[:200] or fallback
