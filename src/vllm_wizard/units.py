"""Byte and rate constants, and the only place where units are converted.

Everything inside the package is bytes (int). GiB (2**30) appears only at the edges:
parsing user input and rendering output. Datasheet bandwidths are decimal (10**9).
"""

from __future__ import annotations

import math

KiB = 1024
MiB = 1024**2
GiB = 1024**3
GB = 10**9


def gib_to_bytes(gib: float) -> int:
    """Convert GiB (2**30 bytes) to whole bytes, rounding down."""
    return math.floor(gib * GiB)


def bytes_to_gib(n_bytes: float, ndigits: int = 2) -> float:
    """Convert bytes to GiB (2**30), rounded for display."""
    return round(n_bytes / GiB, ndigits)


def format_gib(n_bytes: float, ndigits: int = 2) -> str:
    """Render bytes as a GiB string such as '14.96 GiB'."""
    return f"{n_bytes / GiB:.{ndigits}f} GiB"
