"""Exact weight sizes from a model folder: safetensors headers or the index's total_size.

A safetensors file starts with an 8-byte little-endian header length and a JSON header
listing each tensor's dtype, shape and byte offsets; reading it costs one small read.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from pathlib import Path
from typing import Any

from vllm_wizard.core.model_metadata import SafetensorsSummary
from vllm_wizard.errors import UserInputError

logger = logging.getLogger(__name__)

INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
MAX_HEADER_BYTES = 100 * 1024 * 1024


def read_safetensors_headers(folder: Path) -> SafetensorsSummary | None:
    """Sum tensor bytes and element counts over every `*.safetensors` file in `folder`."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total_bytes = 0
    params = 0
    for path in files:
        header = _read_header(path)
        if header is None:
            return None
        for name, tensor in header.items():
            if name == "__metadata__" or not isinstance(tensor, dict):
                continue
            try:
                start, end = tensor["data_offsets"]
                total_bytes += int(end) - int(start)
                params += math.prod(int(d) for d in tensor["shape"])
            except (KeyError, TypeError, ValueError):
                raise UserInputError(
                    f"{path.name}: tensor {name!r} has no valid data_offsets/shape in the "
                    "header; re-download the file, or move it away to size from config.json.",
                    field="model",
                ) from None
    if total_bytes <= 0:
        return None
    return SafetensorsSummary(total_bytes=total_bytes, params_total=params, source="safetensors")


def _read_header(path: Path) -> dict[str, Any] | None:
    """The JSON header of one safetensors file; None when it is not a safetensors file.

    Raises UserInputError when the file is a truncated or corrupt safetensors file, since
    sizing from it would be silently wrong.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                return None
            (length,) = struct.unpack("<Q", raw)
            if length <= 0 or length > MAX_HEADER_BYTES:
                return None
            body = handle.read(length)
    except OSError as exc:
        logger.debug("cannot read safetensors header of %s: %s", path, exc)
        return None
    if len(body) < length:
        raise UserInputError(
            f"{path.name} is truncated: its header declares {length} bytes but the file holds "
            f"{len(body)}; re-download it, or move it away to size from config.json.",
            field="model",
        )
    try:
        header = json.loads(body)
    except ValueError:
        raise UserInputError(
            f"{path.name} has a corrupt header (not JSON); re-download it, or move it away to "
            "size from config.json.",
            field="model",
        ) from None
    return header if isinstance(header, dict) else None


def read_index(folder: Path) -> SafetensorsSummary | None:
    """Total stored bytes from a sharded checkpoint's index (`metadata.total_size`)."""
    for name in (*INDEX_FILES, "safetensors_metadata.json"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        metadata = data.get("metadata") if isinstance(data, dict) else None
        if not isinstance(metadata, dict) or not metadata.get("total_size"):
            continue
        params = metadata.get("total_parameters")
        return SafetensorsSummary(
            total_bytes=int(float(metadata["total_size"])),
            params_total=int(params) if params else None,
            source="index",
        )
    return None
