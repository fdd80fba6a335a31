"""The page's form as query parameters: parse them into a plan request, and back to a URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


# The "Find hardware" form: its target choices, and what it takes from the main form.
SIZE_TARGETS = {
    "concurrency": "Concurrent requests",
    "target_output_tps": "Output tokens/s (all replicas)",
    "target_rps": "Requests/s",
}
# The keys of SizeResult.target, as the table's caption names them.
SIZE_TARGET_LABELS = {
    "concurrency": "concurrent requests",
    "output_toks_per_s": "output tokens/s",
    "requests_per_s": "requests/s",
}
SIZE_SHARED = ("model", "prompt_tokens", "gen_tokens", "max_model_len", "gpu_memory_utilization")
SIZE_LIMITS = ("max_ttft_ms", "max_tpot_ms")


def size_fields(params: Mapping[str, str], shortlist: Sequence[str]) -> dict[str, Any]:
    """SizeRequest fields (as strings) from the Find-hardware form and the main form.

    `size_target` names the target field (concurrency when absent) and `size_value` its
    value; `size_max_ttft_ms` and `size_max_tpot_ms` are the optional limits (ms);
    `shortlist` holds the chosen GPU names.
    """
    fields: dict[str, Any] = {
        key: params[key].strip() for key in SIZE_SHARED if params.get(key, "").strip()
    }
    target = params.get("size_target", "").strip() or "concurrency"
    value = params.get("size_value", "").strip()
    if value:  # an unknown target stays under its own name, so validation names it
        fields[target if target in SIZE_TARGETS else "size_target"] = value
    for limit in SIZE_LIMITS:
        given = params.get("size_" + limit, "").strip()
        if given:
            fields[limit] = given
    names = [name.strip() for name in shortlist if name.strip()]
    if names:
        fields["gpus"] = names
    return fields
