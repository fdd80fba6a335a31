"""The bundled GPU catalog (``core/data/gpus.yaml``) and loose lookup of GPU names.

People and tools spell the same card many ways: ``H100``, ``h100-sxm``, ``NVIDIA H100 80GB
HBM3`` (nvidia-smi), ``A100-SXM4-40GB``, ``rtx4090``, ``AMD Instinct MI300X``. Every
spelling is reduced to tokens (case, punctuation and vendor words dropped, letters split
from digits), then split into a model key (``a 100``), a memory size in GB and a form
factor (sxm, pcie, nvl). A query matches a row when the model keys are equal and the
memory and form factor, where the query gives them, agree.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from vllm_wizard.errors import EnvironmentFailureError, UnknownGpuError
from vllm_wizard.schemas.gpu import CloudInstance, GpuSpec
from vllm_wizard.units import MiB, bytes_to_gib

logger = logging.getLogger(__name__)

_CATALOG_PACKAGE = "vllm_wizard.core.data"
_CATALOG_FILE = "gpus.yaml"
_INSTANCES_FILE = "cloud_instances.yaml"
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Words that name the vendor or the product line but never tell two catalog rows apart.
_NOISE_TOKENS = frozenset(
    {
        "nvidia",
        "geforce",
        "tesla",
        "quadro",
        "rtx",
        "amd",
        "instinct",
        "radeon",
        "gpu",
        "graphics",
        "card",
        "generation",
        "edition",
        "workstation",
        "server",
        "blackwell",
        "oam",
    }
)
_MEMORY_TYPE_WORD = re.compile(r"(hbm|gddr)\d*[a-z]?")
_SXM_WORD = re.compile(r"sxm\d")
_FORM_FACTOR_TOKENS = frozenset({"sxm", "pcie", "nvl"})
_SUGGESTION_COUNT = 3


@dataclass(frozen=True)
class GpuMatch:
    """The catalog row a GPU name resolved to, and a note when the choice was a guess."""

    spec: GpuSpec
    note: str | None = None
    count: int | None = None
    instance: str | None = None


@dataclass(frozen=True)
class _ParsedName:
    """A GPU name reduced to the parts matching compares."""

    key: str
    model: str
    memory_gb: int | None
    form_factor: str | None


@dataclass(frozen=True)
class _IndexEntry:
    spec: GpuSpec
    forms: tuple[_ParsedName, ...]


@functools.cache
def load_gpu_catalog() -> tuple[GpuSpec, ...]:
    """Load and validate every row of the bundled catalog, in file order."""
    text = resources.files(_CATALOG_PACKAGE).joinpath(_CATALOG_FILE).read_text(encoding="utf-8")
    document = yaml.load(text, Loader=_YAML_LOADER)
    rows = document.get("gpus") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise EnvironmentFailureError(
            f"The bundled GPU catalog {_CATALOG_FILE} has no 'gpus' list. Reinstall vllm-wizard."
        )
    return tuple(_row_to_spec(index, row) for index, row in enumerate(rows))


def resolve_gpu(query: str) -> GpuMatch:
    """Find the catalog row for a GPU name as a person or nvidia-smi writes it.

    A cloud instance type (``p5.48xlarge``, ``a2-ultragpu-8g``) resolves to its GPU, with
    `count` set to the GPUs in one instance. Raises `UnknownGpuError` naming the closest
    catalog entries when nothing matches.
    """
    instance = _cloud_instances().get(query.strip().lower())
    if instance is not None:
        spec = next(spec for spec in load_gpu_catalog() if spec.name == instance.gpu)
        note = f"{instance.name} ({instance.cloud}) has {instance.count}x {spec.name}."
        return GpuMatch(spec=spec, note=note, count=instance.count, instance=instance.name)
    parsed = _parse_name(query)
    if not parsed.key:
        raise UnknownGpuError(
            f"GPU name {query!r} is empty once vendor words are removed. "
            "Give a model such as 'H100' or 'RTX 4090', or pass --vram-gb.",
            field="gpu",
        )
    index = _catalog_index()
    exact = [entry.spec for entry in index if any(f.key == parsed.key for f in entry.forms)]
    if exact:
        return GpuMatch(spec=exact[0])
    candidates = _structured_candidates(index, parsed, match_form_factor=True)
    if candidates:
        return _pick(query, candidates, note=None)
    candidates = _structured_candidates(index, parsed, match_form_factor=False)
    if candidates:
        note = (
            f"The catalog has no {parsed.form_factor} variant of {query!r}; "
            f"took {candidates[0].name}."
        )
        return _pick(query, candidates, note=note)
    raise _unknown_gpu_error(query, parsed, index)


def list_gpus(query: str | None = None) -> list[GpuSpec]:
    """Catalog rows whose name or an alias contains `query` (all rows when it is None)."""
    catalog = load_gpu_catalog()
    if query is None or not query.strip():
        return list(catalog)
    needle = query.strip().lower()
    needle_key = _parse_name(query).key
    matches = []
    for entry in _catalog_index():
        spellings = (entry.spec.name, *entry.spec.aliases)
        if any(needle in spelling.lower() for spelling in spellings) or (
            needle_key and any(needle_key in form.key for form in entry.forms)
        ):
            matches.append(entry.spec)
    return matches


def gpu_entry(spec: GpuSpec) -> dict[str, Any]:
    """One row as `gpus --json` and `detect --json` print it: the spec plus memory in GiB."""
    entry = spec.model_dump(mode="json")
    entry["memory_gib"] = bytes_to_gib(spec.memory_bytes)
    return entry


@functools.cache
def load_cloud_instances() -> tuple[CloudInstance, ...]:
    """Load and validate the bundled cloud instance types; every GPU must be a catalog row."""
    text = resources.files(_CATALOG_PACKAGE).joinpath(_INSTANCES_FILE).read_text(encoding="utf-8")
    document = yaml.load(text, Loader=_YAML_LOADER)
    names = {spec.name for spec in load_gpu_catalog()}
    instances = []
    try:
        for cloud, block in document["clouds"].items():
            for name, row in block["instances"].items():
                instance = CloudInstance(name=name, cloud=cloud, source=block["source"], **row)
                if instance.gpu not in names:
                    raise ValueError(f"{name} names GPU {instance.gpu!r}, not a catalog row")
                instances.append(instance)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise EnvironmentFailureError(
            f"The bundled {_INSTANCES_FILE} is invalid ({exc}). Reinstall vllm-wizard."
        ) from exc
    return tuple(instances)


@functools.cache
def _cloud_instances() -> dict[str, CloudInstance]:
    return {instance.name.lower(): instance for instance in load_cloud_instances()}


def _row_to_spec(index: int, row: object) -> GpuSpec:
    """Validate one YAML row, converting ``memory_mib`` to ``memory_bytes``."""
    if not isinstance(row, dict):
        raise EnvironmentFailureError(
            f"Row {index} of the bundled GPU catalog is not a mapping. Reinstall vllm-wizard."
        )
    fields = dict(row)
    memory_mib = fields.pop("memory_mib", None)
    if memory_mib is not None:
        fields["memory_bytes"] = round(float(memory_mib) * MiB)
    try:
        return GpuSpec.model_validate(fields)
    except ValidationError as exc:
        name = fields.get("name", f"row {index}")
        raise EnvironmentFailureError(
            f"GPU catalog entry {name!r} is invalid ({exc.error_count()} errors: "
            f"{exc.errors()[0]['msg']}). Reinstall vllm-wizard."
        ) from exc


@functools.cache
def _catalog_index() -> tuple[_IndexEntry, ...]:
    return tuple(_index_entry(spec) for spec in load_gpu_catalog())


def _index_entry(spec: GpuSpec) -> _IndexEntry:
    """Parse the name and aliases; memory and form factor default to the row's own."""
    own = _parse_name(spec.name)
    own_memory_gb = own.memory_gb
    own_form_factor = own.form_factor or _form_factor_token(spec.form_factor)
    forms = []
    for spelling in (spec.name, *spec.aliases):
        parsed = _parse_name(spelling)
        forms.append(
            _ParsedName(
                key=parsed.key,
                model=parsed.model,
                memory_gb=parsed.memory_gb if parsed.memory_gb is not None else own_memory_gb,
                form_factor=parsed.form_factor or own_form_factor,
            )
        )
    return _IndexEntry(spec=spec, forms=tuple(forms))


def _form_factor_token(form_factor: str) -> str | None:
    token = _SXM_WORD.sub("sxm", form_factor.lower())
    return token if token in _FORM_FACTOR_TOKENS else None


def _tokenize(name: str) -> list[str]:
    """Lower-case tokens with letters split from digits and vendor words dropped."""
    tokens: list[str] = []
    for word in re.split(r"[^a-z0-9]+", name.lower()):
        if not word or _MEMORY_TYPE_WORD.fullmatch(word):
            continue
        word = _SXM_WORD.sub("sxm", word)
        tokens.extend(re.findall(r"[a-z]+|\d+", word))
    tokens = ["gb" if token == "gib" else token for token in tokens]
    return [token for token in tokens if token not in _NOISE_TOKENS]


def _parse_name(name: str) -> _ParsedName:
    """Split a GPU name into model tokens, memory size in GB and form factor."""
    tokens = _tokenize(name)
    memory_gb: int | None = None
    form_factor: str | None = None
    model: list[str] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        following = tokens[position + 1] if position + 1 < len(tokens) else ""
        if token.isdigit() and following == "gb":
            memory_gb = int(token)
            position += 2
            continue
        if token in _FORM_FACTOR_TOKENS:
            form_factor = form_factor or token
        else:
            model.append(token)
        position += 1
    return _ParsedName(
        key=" ".join(tokens),
        model=" ".join(model),
        memory_gb=memory_gb,
        form_factor=form_factor,
    )


def _structured_candidates(
    index: tuple[_IndexEntry, ...], parsed: _ParsedName, *, match_form_factor: bool
) -> list[GpuSpec]:
    """Rows whose model equals the query's, and whose memory/form factor agree where given."""
    candidates = []
    for entry in index:
        for form in entry.forms:
            if form.model != parsed.model:
                continue
            if parsed.memory_gb is not None and form.memory_gb != parsed.memory_gb:
                continue
            if match_form_factor and parsed.form_factor not in (None, form.form_factor):
                continue
            candidates.append(entry.spec)
            break
    return candidates


def _pick(query: str, candidates: list[GpuSpec], *, note: str | None) -> GpuMatch:
    """Take the first candidate (the catalog lists the common variant first)."""
    chosen = candidates[0]
    if len(candidates) > 1:
        others = [spec.name for spec in candidates[1:]]
        if len(others) == 1:
            say = f"Say '{others[0]}' for the other."
        else:
            quoted = [f"'{name}'" for name in others]
            say = f"Say {', '.join(quoted[:-1])} or {quoted[-1]} for another."
        ambiguous = f"{query!r} is ambiguous; took {chosen.name}, the common variant. {say}"
        note = f"{note} {ambiguous}" if note else ambiguous
    logger.debug("GPU %r resolved to %s", query, chosen.name)
    return GpuMatch(spec=chosen, note=note)


def _unknown_gpu_error(
    query: str, parsed: _ParsedName, index: tuple[_IndexEntry, ...]
) -> UnknownGpuError:
    """Build the error naming the catalog entries whose spellings look most like `query`."""
    scored = []
    for entry in index:
        best = max(
            difflib.SequenceMatcher(None, parsed.key, form.key).ratio() for form in entry.forms
        )
        scored.append((best, entry.spec.name))
    scored.sort(key=lambda item: item[0], reverse=True)
    closest = ", ".join(f"'{name}'" for _, name in scored[:_SUGGESTION_COUNT])
    return UnknownGpuError(
        f"GPU {query!r} is not in the catalog (closest: {closest}). "
        "Use one of these names, or pass --vram-gb with the card's memory.",
        field="gpu",
    )
