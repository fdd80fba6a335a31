"""Confine the model field to catalog/Hub ids and folders under --models-dir.

The core reads any existing path it is given; the web layer decides first, so a request
can never make the server read a folder outside the directory it was started with.
"""

from __future__ import annotations

from pathlib import Path

from vllm_wizard.errors import UserInputError

MAX_MODEL_CHARS = 512
MAX_LOCAL_MODELS = 200


def resolve_model_reference(model: str, models_dir: Path | None) -> str:
    """The `model` string to hand the planner: an id, or an absolute path inside models_dir."""
    text = _checked_text(model)
    if models_dir is not None:
        inside = _inside(models_dir, text)
        if inside is not None:
            return str(inside)
    if _looks_like_path(text) or _exists_here(text):
        raise UserInputError(
            _outside_message(text, models_dir),
            field="model",
        )
    return text


def list_local_models(models_dir: Path | None) -> list[str]:
    """Folders (one or two levels deep, as `name` or `org/name`) that hold a config.json."""
    if models_dir is None:
        return []
    root = models_dir.resolve()
    found: list[str] = []
    for config in (
        sorted(root.glob("config.json"))
        + sorted(root.glob("*/config.json"))
        + sorted(root.glob("*/*/config.json"))
    ):
        folder = config.parent.resolve()
        if folder != root and folder.is_relative_to(root):
            found.append(folder.relative_to(root).as_posix())
        if len(found) >= MAX_LOCAL_MODELS:
            break
    return found


def _checked_text(model: str) -> str:
    text = model.strip()
    if not text:
        raise UserInputError("model is empty; give a catalog or Hub id.", field="model")
    if len(text) > MAX_MODEL_CHARS or any(ord(ch) < 32 or ch == "\x7f" for ch in text):
        raise UserInputError(
            f"model is not a model id ({len(text)} characters, or control characters); "
            "give a catalog or Hub id such as meta-llama/Llama-3.1-8B-Instruct.",
            field="model",
        )
    return text


def _inside(models_dir: Path, text: str) -> Path | None:
    root = models_dir.resolve()
    try:
        candidate = (root / text).resolve()
        exists = candidate.exists()
    except (OSError, ValueError):
        return None
    if exists and candidate != root and candidate.is_relative_to(root):
        return candidate
    return None


def _looks_like_path(text: str) -> bool:
    return (
        text.startswith((".", "/", "~", "\\"))
        or text.endswith(".json")
        or text.count("/") > 1
        or ".." in text
        or "\\" in text
    )


def _exists_here(text: str) -> bool:
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False


def _outside_message(text: str, models_dir: Path | None) -> str:
    if models_dir is None:
        return (
            f"model {text!r} looks like a local path and this server reads no local folders; "
            "give a catalog or Hub id, or restart with `vllm-wizard web --models-dir DIR`."
        )
    return (
        f"model {text!r} is not a folder under the server's --models-dir; "
        "pick a folder listed in the model picker, or a catalog or Hub id."
    )
