"""The tool's own profile (SPEC section 8): the inputs of a plan, versioned, as YAML.

A profile records the request, not the resolved plan, so loading it and planning again
gives the same plan. Request fields SPEC section 8 has no place for go under
`overrides`; `outputs.vllm_args` is written for people to read and ignored on load.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.request import PlanRequest

PROFILE_VERSION = 1
# (section, key in the profile) for each request field SPEC section 8 places.
_PLACES: dict[str, tuple[str, str]] = {
    "model": ("model", "id"),
    "revision": ("model", "revision"),
    "tokenizer": ("model", "tokenizer"),
    "trust_remote_code": ("model", "trust_remote_code"),
    "dtype": ("model", "dtype"),
    "quantization": ("model", "quantization"),
    "kv_cache_dtype": ("model", "kv_cache_dtype"),
    "max_model_len": ("model", "max_model_len"),
    "gpu": ("hardware", "gpu_name"),
    "gpus": ("hardware", "gpus"),
    "gpus_per_node": ("hardware", "gpus_per_node"),
    "vram_gb": ("hardware", "vram_gb"),
    "interconnect": ("hardware", "interconnect"),
    "tensor_parallel_size": ("hardware", "tp_size"),
    "prompt_tokens": ("workload", "prompt_tokens"),
    "gen_tokens": ("workload", "gen_tokens"),
    "concurrency": ("workload", "concurrency"),
    "streaming": ("workload", "streaming"),
    "batching_mode": ("workload", "mode"),
    "target_latency_ms": ("workload", "target_latency_ms"),
    "gpu_memory_utilization": ("policy", "gpu_memory_utilization"),
    "overhead_gb": ("policy", "overhead_gb"),
    "fragmentation_factor": ("policy", "fragmentation_factor"),
    "headroom_gb": ("policy", "headroom_gb"),
    "use_corrections": ("policy", "use_corrections"),
    "vllm_version": ("", "vllm_version"),
}
SECTIONS = ("model", "hardware", "workload", "policy", "overrides")
# Fields whose mere presence changes the plan (an unset --gpus takes the instance's or the
# detected count): written as null when unset, so a reload leaves them unset too.
_UNSET_AS_NULL = ("gpus",)


def profile_dict(
    request: PlanRequest, emit: list[str], vllm_args: dict[str, Any]
) -> dict[str, Any]:
    """The profile of `request`: every field, defaults included, so it reads on its own."""
    data: dict[str, Any] = {"profile_version": PROFILE_VERSION}
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for name in PlanRequest.model_fields:
        value = getattr(request, name)
        if name in _UNSET_AS_NULL and name not in request.model_fields_set:
            value = None
        section, key = _PLACES.get(name, ("overrides", name))
        if section:
            sections[section][key] = value
        else:
            data[key] = value
    data.update(sections)
    data["outputs"] = {"emit": list(emit), "vllm_args": dict(vllm_args)}
    return data


def dump_profile(request: PlanRequest, emit: list[str], vllm_args: dict[str, Any]) -> str:
    """profile.yaml text."""
    header = (
        "# vllm-wizard profile: the inputs of a plan. Reload with\n"
        "#   vllm-wizard plan --profile profile.yaml   (or generate --profile ...)\n"
        "# outputs.vllm_args is what this plan recommended; it is ignored on load.\n"
    )
    body = yaml.safe_dump(profile_dict(request, emit, vllm_args), sort_keys=False)
    return header + body


def request_fields_from_profile(data: Any, source: str = "profile") -> dict[str, Any]:
    """The PlanRequest fields a profile sets (before validation)."""
    if not isinstance(data, dict):
        raise InvalidParameterError(
            f"{source} is not a mapping; write a profile with `vllm-wizard generate --emit profile`.",
            field="profile",
        )
    version = data.get("profile_version")
    if version is None:
        raise InvalidParameterError(
            f"{source} has no profile_version; add `profile_version: {PROFILE_VERSION}` at the "
            "top (profiles written by `generate --emit profile` carry it).",
            field="profile",
        )
    if version != PROFILE_VERSION:
        raise InvalidParameterError(
            f"{source}: profile_version {version!r} is not supported; this version reads "
            f"profile_version {PROFILE_VERSION}.",
            field="profile",
        )
    by_place = {place: name for name, place in _PLACES.items()}
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("profile_version", "outputs"):
            continue
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise InvalidParameterError(
                    f"{source}: '{key}' must be a mapping, not {value!r}.", field="profile"
                )
            for sub, sub_value in value.items():
                name = by_place.get((key, sub), sub if key == "overrides" else None)
                _set(fields, name, sub_value, f"{key}.{sub}", source)
        else:
            _set(fields, by_place.get(("", key)), value, key, source)
    return {k: v for k, v in fields.items() if v is not None}


def _set(fields: dict[str, Any], name: str | None, value: Any, where: str, source: str) -> None:
    if name is None or name not in PlanRequest.model_fields:
        raise InvalidParameterError(
            f"{source}: '{where}' is not a profile field; remove it or check its spelling.",
            field="profile",
        )
    fields[name] = value


def load_profile(text: str, source: str = "profile") -> PlanRequest:
    """Parse profile YAML into the request it records."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidParameterError(
            f"{source} is not valid YAML ({_yaml_problem(exc)}); fix the file.", field="profile"
        ) from None
    fields = request_fields_from_profile(data, source)
    try:
        return PlanRequest(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidParameterError(
            f"{source}: {where} = {first.get('input')!r}: {first['msg'].lower()}.",
            field="profile",
        ) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """'expected ',' or ']' at line 2, column 1': the parser's complaint on one line."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"
