"""The page's form as query parameters: parse them into a plan request, and back to a URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from vllm_wizard.schemas.request import PlanRequest

# Fields the page shows, in order; any other PlanRequest field is accepted from the URL too.
FORM_FIELDS = (
    "model",
    "gpu",
    "gpus",
    "max_model_len",
    "prompt_tokens",
    "gen_tokens",
    "concurrency",
    "batching_mode",
    "quantization",
    "kv_cache_dtype",
    "gpu_memory_utilization",
    "tensor_parallel_size",
)
PAGE_KEYS = ("tab",)


def plan_fields(params: Mapping[str, str]) -> dict[str, str]:
    """The non-empty PlanRequest fields among the query parameters, as strings.

    A value equal to the field's default is dropped, so the plan treats it as unset (the
    form always posts every input, and "set explicitly" changes some warnings).
    """
    return {
        key: value.strip()
        for key, value in params.items()
        if key in PlanRequest.model_fields and value.strip() and not _is_default(key, value)
    }


def _is_default(key: str, value: str) -> bool:
    default = PlanRequest.model_fields[key].default
    if isinstance(default, float):
        try:
            return float(value) == default
        except ValueError:
            return False
    return False


def share_url(params: Mapping[str, str]) -> str:
    """'/?model=...&gpu=...': the page URL that reproduces this form (and open tab)."""
    kept = plan_fields(params)
    kept.update({k: params[k] for k in PAGE_KEYS if params.get(k)})
    return "/?" + urlencode(kept) if kept else "/"


def field_help(name: str) -> str:
    """The field's description, shared with the CLI's --help."""
    field: Any = PlanRequest.model_fields.get(name)
    return str(field.description) if field is not None and field.description else ""
