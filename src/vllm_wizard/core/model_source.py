"""Find a model's config: a local folder or file, the built-in catalog, then the HF cache.

Only this module touches the file system for models; huggingface_hub is imported only
when the catalog misses, so `plan` on a catalog model stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from vllm_wizard.core.catalog import catalog_metadata
from vllm_wizard.core.model_metadata import parse_model_config
from vllm_wizard.core.weights_files import read_index, read_safetensors_headers
from vllm_wizard.errors import ModelNotFoundError, UserInputError
from vllm_wizard.schemas.model import ModelMetadata, ModelSource

logger = logging.getLogger(__name__)

SIDECAR_FILES = ("quantize_config.json", "hf_quant_config.json")


def load_model_metadata(
    model: str, *, params_b: float | None = None, revision: str | None = None
) -> ModelMetadata:
    """Resolve `model` (folder, config.json path or Hub id) to ModelMetadata."""
    path = Path(model).expanduser()
    _refuse_gguf(path)
    if path.is_dir():
        return _from_folder(path, model, "local", params_b)
    if path.is_file():
        return _from_folder(path.parent, model, "local", params_b, config_path=path)
    if _looks_like_path(model):
        raise ModelNotFoundError(
            f"--model '{model}' is not an existing folder or file; pass a folder that holds "
            "config.json, a path to a config.json, or a Hugging Face id such as org/name.",
            field="model",
        )

    meta = catalog_metadata(model)
    if meta is not None:
        return _with_params_b(meta, params_b) if params_b is not None else meta

    cached = _find_in_hf_cache(model, revision)
    if cached is not None:
        return _from_folder(cached, model, "hf_cache", params_b)
    raise ModelNotFoundError(
        f"--model '{model}' is not in the built-in catalog or the local Hugging Face cache, "
        "and this version does not fetch from the Hub; pass a local folder with config.json "
        "(e.g. from `huggingface-cli download {model} config.json`).".replace("{model}", model),
        field="model",
    )


def _refuse_gguf(path: Path) -> None:
    """A GGUF file, or a folder holding only GGUF files, has no config.json to size from."""
    gguf = path.suffix.lower() == ".gguf" or (
        path.is_dir() and not (path / "config.json").exists() and any(path.glob("*.gguf"))
    )
    if gguf:
        raise UserInputError(
            f"--model '{path}' is a GGUF checkpoint; vllm-wizard sizes models from config.json. "
            "Pass the original model's Hub id or config folder, with --params-b for the GGUF's "
            "size if it differs.",
            field="model",
        )


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.endswith(".json") or model.count("/") > 1


MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _read_json(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise UserInputError(
                f"{path} is {size} bytes, too large for a model config (limit "
                f"{MAX_CONFIG_BYTES}); point --model at the folder with the real config.json.",
                field="model",
            )
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise UserInputError(
            f"{path} cannot be read ({exc.strerror}); check its permissions or re-download it.",
            field="model",
        ) from None
    except UnicodeDecodeError:
        raise UserInputError(
            f"{path} is not UTF-8 text, so not a config.json; point --model at the folder "
            "with the model's config.json.",
            field="model",
        ) from None
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix or re-download it.",
            field="model",
        ) from None
    if not isinstance(data, dict):
        raise UserInputError(
            f"{path} does not hold a JSON object; is it a config.json?", field="model"
        )
    return data


def _from_folder(
    folder: Path,
    model_id: str,
    source: ModelSource,
    params_b: float | None,
    config_path: Path | None = None,
) -> ModelMetadata:
    config_path = config_path or folder / "config.json"
    if not config_path.is_file():
        raise ModelNotFoundError(
            f"--model '{model_id}': no config.json in {folder}; point --model at the folder "
            "that holds the model's config.json.",
            field="model",
        )
    config = _read_json(config_path)
    extra = {name: _read_json(folder / name) for name in SIDECAR_FILES if (folder / name).is_file()}
    summary = read_safetensors_headers(folder) or read_index(folder)
    return parse_model_config(
        config,
        model_id=model_id,
        source=source,
        safetensors=summary,
        params_b=params_b,
        extra_files=extra,
    )


def _with_params_b(meta: ModelMetadata, params_b: float) -> ModelMetadata:
    params = int(params_b * 1e9)
    ratio = meta.params_active / meta.params_total
    return meta.model_copy(
        update={
            "params_total": params,
            "params_active": max(1, int(params * ratio)),
            "weights_bytes": None if meta.quantization is None else meta.weights_bytes,
            "weights_source": "params_b",
        }
    )


def _find_in_hf_cache(model: str, revision: str | None) -> Path | None:
    """The snapshot folder of `model` in the local Hugging Face cache, if config.json is there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a core dependency
        return None
    try:
        found = try_to_load_from_cache(model, "config.json", revision=revision)
    except ValueError:  # huggingface_hub's HFValidationError: not a valid repo id or revision
        return None
    if isinstance(found, str):
        logger.debug("found %s in the HF cache at %s", model, found)
        return Path(found).parent
    return None
