"""Find the GPUs of this machine: NVML, else nvidia-smi, else rocm-smi.

Every parser here is a pure function of the tool's text output, so recorded outputs of the
real tools test it. `detect_gpus` is the one function that runs anything:

1. NVML through nvidia-ml-py (``import pynvml``) when it is installed and the driver loads;
2. ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` (older drivers that reject a
   field get a shorter query), ``nvidia-smi -L`` for MIG slices, ``nvidia-smi topo -m`` for
   the link between GPUs and ``nvidia-smi --version`` for the CUDA version;
3. ``rocm-smi --showproductname --showmeminfo vram --showuniqueid --json`` for AMD.

When none finds a GPU, `GpuNotDetectedError` (exit 1) says what each tried and how to go on
without detection (``--gpu NAME`` or ``--vram-gb``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vllm_wizard.core.gpu_catalog import gpu_entry, load_gpu_catalog, resolve_gpu
from vllm_wizard.errors import GpuNotDetectedError, UnknownGpuError
from vllm_wizard.schemas.gpu import DetectedGpu, GpuInventory, GpuSpec, Interconnect
from vllm_wizard.units import MiB, bytes_to_gib

logger = logging.getLogger(__name__)

# Columns asked of nvidia-smi, newest first. compute_cap needs driver 510+ and memory.reserved
# a recent one; a driver that does not know a field rejects the whole query.
NVIDIA_SMI_FIELDS: tuple[str, ...] = (
    "index",
    "name",
    "uuid",
    "memory.total",
    "memory.reserved",
    "memory.free",
    "compute_cap",
    "driver_version",
    "mig.mode.current",
)
NVIDIA_SMI_FIELDS_OLD_DRIVER: tuple[str, ...] = (
    "index",
    "name",
    "uuid",
    "memory.total",
    "memory.free",
    "driver_version",
)
ROCM_SMI_ARGS: tuple[str, ...] = (
    "--showproductname",
    "--showmeminfo",
    "vram",
    "--showuniqueid",
    "--json",
)
_TOOL_TIMEOUT_S = 15.0
_NOT_REPORTED = frozenset(
    {"", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]"}
)
_NO_GPU_HINT = "Pass --gpu NAME (see `vllm-wizard gpus`) or --vram-gb to plan without detection."

# nvidia-smi failure texts and what to do about each.
_NVIDIA_SMI_FAILURES: tuple[tuple[str, str], ...] = (
    ("no devices were found", "the driver sees no NVIDIA GPU"),
    (
        "driver/library version mismatch",
        "the NVIDIA kernel driver and user-space library versions differ; reboot (or reload "
        "the nvidia kernel modules) after the driver update",
    ),
    (
        "couldn't communicate with the nvidia driver",
        "the NVIDIA driver is not loaded; install it or load the nvidia kernel module",
    ),
    ("failed to initialize nvml", "NVML failed to initialize; check the driver installation"),
    ("insufficient permissions", "this user may not query the GPUs; check /dev/nvidia* access"),
)
_MIG_LINE = re.compile(
    r"^\s*MIG\s+(?P<profile>\S+)\s+Device\s+(?P<index>\d+):\s*\(UUID:\s*(?P<uuid>[^)\s]+)\)"
)
_GPU_LINE = re.compile(r"^GPU\s+(?P<index>\d+):\s*(?P<name>.+?)\s*\(UUID:\s*(?P<uuid>[^)\s]+)\)")
_MIG_PROFILE_GB = re.compile(r"\.(\d+)gb", re.IGNORECASE)
_CUDA_VERSION = re.compile(r"CUDA Version\s*:?\s*(\d+\.\d+)", re.IGNORECASE)
_PCIE_LINKS = frozenset({"PIX", "PXB", "PHB", "NODE", "SYS", "SOC"})

Runner = Callable[[Sequence[str]], "ToolOutput"]


class ToolOutput:
    """What one run of a command printed, or that it could not be started."""

    def __init__(self, returncode: int | None, stdout: str, stderr: str = "") -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def text(self) -> str:
        """stdout and stderr together (nvidia-smi prints its failures on stdout)."""
        return f"{self.stdout}\n{self.stderr}".strip()


def detect_gpus(runner: Runner | None = None, *, use_nvml: bool = True) -> GpuInventory:
    """Detect the local GPUs, trying NVML, nvidia-smi and rocm-smi in turn.

    Raises `GpuNotDetectedError` naming what each method reported when none finds a GPU.
    """
    run = runner or run_tool
    failures: list[str] = []
    if use_nvml:
        try:
            return _detect_with_nvml()
        except GpuNotDetectedError as exc:
            failures.append(exc.message)
    for attempt in (_detect_with_nvidia_smi, _detect_with_rocm_smi):
        try:
            return attempt(run)
        except GpuNotDetectedError as exc:
            failures.append(exc.message)
    raise GpuNotDetectedError(f"No GPU detected ({'; '.join(failures)}). {_NO_GPU_HINT}")


def run_tool(command: Sequence[str]) -> ToolOutput:
    """Run `command` and capture its output; returncode None when it is not installed."""
    if shutil.which(command[0]) is None:
        return ToolOutput(None, "", f"{command[0]} not found on PATH")
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolOutput(None, "", f"{command[0]} failed to run: {exc}")
    return ToolOutput(done.returncode, done.stdout, done.stderr)


# --- nvidia-smi -----------------------------------------------------------------------------


def nvidia_smi_query_command(fields: Sequence[str]) -> list[str]:
    """The nvidia-smi command line that prints `fields` for every GPU as bare CSV."""
    return ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]


def parse_nvidia_smi_csv(text: str, fields: Sequence[str] = NVIDIA_SMI_FIELDS) -> list[DetectedGpu]:
    """Parse ``--format=csv,noheader,nounits`` output queried with `fields` (MiB figures).

    Lines with another number of columns (warnings, blank lines) are skipped. Raises
    `GpuNotDetectedError` for nvidia-smi's own failure messages and when no line parses.
    """
    _raise_for_nvidia_smi_failure(text)
    gpus: list[DetectedGpu] = []
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if len(row) != len(fields):
            if any(cell.strip() for cell in row):
                logger.debug("Skipped nvidia-smi line %r", ",".join(row))
            continue
        values = {field: _reported(cell) for field, cell in zip(fields, row, strict=True)}
        gpu = _nvidia_smi_row(values)
        if gpu is not None:
            gpus.append(gpu)
    if not gpus:
        raise GpuNotDetectedError(f"nvidia-smi printed no GPU rows ({_first_line(text)!r})")
    return gpus


def parse_nvidia_smi_list(text: str) -> dict[int, list[tuple[str, str]]]:
    """Parse ``nvidia-smi -L``: for each GPU index, its MIG slices as (profile, uuid)."""
    slices: dict[int, list[tuple[str, str]]] = {}
    current: int | None = None
    for line in text.splitlines():
        gpu = _GPU_LINE.match(line.strip())
        if gpu:
            current = int(gpu.group("index"))
            continue
        mig = _MIG_LINE.match(line)
        if mig and current is not None:
            slices.setdefault(current, []).append((mig.group("profile"), mig.group("uuid")))
    return slices


def parse_nvidia_smi_topology(text: str) -> Interconnect:
    """Read ``nvidia-smi topo -m``: nvlink when every GPU pair has NVLink, else pcie.

    "unknown" when the matrix has fewer than two GPUs or cannot be read.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((line for line in lines if re.match(r"^\s+GPU0\b", line)), None)
    if header is None:
        return "unknown"
    count = sum(1 for token in header.split() if re.fullmatch(r"GPU\d+", token))
    if count < 2:
        return "unknown"
    links: list[str] = []
    for line in lines:
        if not re.match(r"GPU\d+\s", line):  # row labels start the line; the header is indented
            continue
        tokens = line.split()
        links.extend(cell for cell in tokens[1 : count + 1] if cell != "X")
    if not links:
        return "unknown"
    if all(re.fullmatch(r"NV\d+", cell) for cell in links):
        return "nvlink"
    if any(re.fullmatch(r"NV\d+", cell) or cell in _PCIE_LINKS for cell in links):
        return "pcie"
    return "unknown"


def parse_cuda_version(text: str) -> str | None:
    """The "CUDA Version" of ``nvidia-smi --version`` (or the nvidia-smi banner)."""
    match = _CUDA_VERSION.search(text)
    return match.group(1) if match else None


def split_mig_slices(
    gpus: list[DetectedGpu], slices: dict[int, list[tuple[str, str]]]
) -> list[DetectedGpu]:
    """Replace each GPU that has MIG slices by its slices, memory taken from the profile.

    A MIG slice is what CUDA (and vLLM) sees; its memory is the profile's figure
    ('3g.40gb' is 40 GB), an approximation of the slice's exact size.
    """
    out: list[DetectedGpu] = []
    for gpu in gpus:
        parts = slices.get(gpu.index)
        if not parts:
            out.append(gpu.model_copy(update={"index": len(out)}))
            continue
        for profile, uuid in parts:
            size = _MIG_PROFILE_GB.search(profile)
            memory = int(size.group(1)) * 10**9 if size else gpu.memory_bytes
            out.append(
                gpu.model_copy(
                    update={
                        "index": len(out),
                        "memory_bytes": memory,
                        "free_bytes": None,
                        "uuid": uuid,
                        "mig_profile": profile,
                    }
                )
            )
    return out


def _raise_for_nvidia_smi_failure(text: str) -> None:
    lowered = text.lower()
    for needle, meaning in _NVIDIA_SMI_FAILURES:
        if needle in lowered:
            raise GpuNotDetectedError(f"nvidia-smi: {meaning} ({_first_line(text)!r})")


def _nvidia_smi_row(values: dict[str, str | None]) -> DetectedGpu | None:
    name = values.get("name")
    total_mib = _number(values.get("memory.total"))
    index = _number(values.get("index"))
    if not name or total_mib is None or total_mib <= 0 or index is None:
        return None
    reserved_mib = _number(values.get("memory.reserved")) or 0.0
    free_mib = _number(values.get("memory.free"))
    return DetectedGpu(
        index=int(index),
        name=name,
        vendor="nvidia",
        memory_bytes=round((total_mib - reserved_mib) * MiB),
        free_bytes=round(free_mib * MiB) if free_mib is not None else None,
        compute_capability=values.get("compute_cap"),
        uuid=values.get("uuid"),
        mig_enabled=(values.get("mig.mode.current") or "").lower() == "enabled",
        catalog_name=_catalog_name(name),
    )


# --- rocm-smi -------------------------------------------------------------------------------


def parse_rocm_smi_json(text: str) -> list[DetectedGpu]:
    """Parse ``rocm-smi --showproductname --showmeminfo vram --showuniqueid --json``.

    Cards without a VRAM total (integrated GPUs report a small carve-out) are kept; the
    caller decides. Raises `GpuNotDetectedError` when the text holds no card.
    """
    try:
        document = json.loads(text[text.find("{") :]) if "{" in text else None
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise GpuNotDetectedError(f"rocm-smi printed no JSON ({_first_line(text)!r})")
    gpus: list[DetectedGpu] = []
    for key, card in document.items():
        match = re.fullmatch(r"card(\d+)", key)
        if not match or not isinstance(card, dict):
            continue
        fields = {str(k).lower(): _reported(str(v)) for k, v in card.items()}
        total = _number(fields.get("vram total memory (b)"))
        used = _number(fields.get("vram total used memory (b)"))
        name = fields.get("card series") or fields.get("card model") or f"AMD GPU {key}"
        if total is None or total <= 0:
            continue
        gpus.append(
            DetectedGpu(
                index=int(match.group(1)),
                name=name,
                vendor="amd",
                memory_bytes=int(total),
                free_bytes=int(total - used) if used is not None else None,
                compute_capability=fields.get("gfx version"),
                uuid=fields.get("unique id"),
                catalog_name=_catalog_name(name),
            )
        )
    if not gpus:
        raise GpuNotDetectedError("rocm-smi listed no card with VRAM")
    return sorted(gpus, key=lambda gpu: gpu.index)


# --- runners --------------------------------------------------------------------------------


def _detect_with_nvidia_smi(run: Runner) -> GpuInventory:
    notes: list[str] = []
    fields = NVIDIA_SMI_FIELDS
    result = run(nvidia_smi_query_command(fields))
    if result.returncode is None:
        raise GpuNotDetectedError("nvidia-smi is not on PATH")
    if result.returncode != 0 and "not a valid field" in result.text.lower():
        fields = NVIDIA_SMI_FIELDS_OLD_DRIVER
        result = run(nvidia_smi_query_command(fields))
        notes.append("Old driver: compute capability and reserved memory not reported.")
    gpus = parse_nvidia_smi_csv(result.stdout or result.text, fields)
    driver = _reported_field(result, fields, "driver_version")
    migs = [gpu.index for gpu in gpus if gpu.mig_enabled]
    if migs:
        slices = parse_nvidia_smi_list(run(["nvidia-smi", "-L"]).stdout)
        gpus = split_mig_slices(gpus, slices)
        notes.append(
            f"MIG is enabled on GPU {', '.join(map(str, migs))}: listed its slices, memory "
            "from the profile names."
        )
    topology = run(["nvidia-smi", "topo", "-m"])
    interconnect = parse_nvidia_smi_topology(topology.stdout) if len(gpus) > 1 else "unknown"
    return GpuInventory(
        gpus=gpus,
        driver_version=driver,
        cuda_version=parse_cuda_version(run(["nvidia-smi", "--version"]).text),
        interconnect=interconnect,
        source="nvidia-smi",
        notes=notes,
    )


def _detect_with_rocm_smi(run: Runner) -> GpuInventory:
    result = run(["rocm-smi", *ROCM_SMI_ARGS])
    if result.returncode is None:
        raise GpuNotDetectedError("rocm-smi is not on PATH")
    gpus = parse_rocm_smi_json(result.stdout or result.text)
    return GpuInventory(
        gpus=gpus,
        interconnect="unknown",
        source="rocm-smi",
        notes=["rocm-smi does not report the link between GPUs; interconnect from the catalog."],
    )


def _detect_with_nvml() -> GpuInventory:
    """Query NVML through nvidia-ml-py; `GpuNotDetectedError` when it is absent or fails."""
    try:
        import pynvml
    except ImportError:
        raise GpuNotDetectedError("nvidia-ml-py is not installed") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise GpuNotDetectedError(f"NVML did not initialize: {exc}") from None
    try:
        return _nvml_inventory(pynvml)
    except pynvml.NVMLError as exc:
        raise GpuNotDetectedError(f"NVML query failed: {exc}") from None
    finally:
        pynvml.nvmlShutdown()


def _nvml_inventory(nvml: Any) -> GpuInventory:
    count = int(nvml.nvmlDeviceGetCount())
    if count == 0:
        raise GpuNotDetectedError("NVML reports no GPU")
    handles = [nvml.nvmlDeviceGetHandleByIndex(index) for index in range(count)]
    gpus = [_nvml_gpu(nvml, index, handle) for index, handle in enumerate(handles)]
    cuda = int(nvml.nvmlSystemGetCudaDriverVersion_v2())
    nvlink = count > 1 and all(_nvml_has_nvlink(nvml, handle) for handle in handles)
    return GpuInventory(
        gpus=gpus,
        driver_version=_text(nvml.nvmlSystemGetDriverVersion()),
        cuda_version=f"{cuda // 1000}.{cuda % 1000 // 10}",
        interconnect="nvlink" if nvlink else ("pcie" if count > 1 else "unknown"),
        source="nvml",
    )


def _nvml_gpu(nvml: Any, index: int, handle: Any) -> DetectedGpu:
    name = _text(nvml.nvmlDeviceGetName(handle))
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
    return DetectedGpu(
        index=index,
        name=name,
        vendor="nvidia",
        memory_bytes=int(memory.total),
        free_bytes=int(memory.free),
        compute_capability=f"{major}.{minor}",
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        catalog_name=_catalog_name(name),
    )


def _nvml_has_nvlink(nvml: Any, handle: Any) -> bool:
    for link in range(int(getattr(nvml, "NVML_NVLINK_MAX_LINKS", 18))):
        try:
            if nvml.nvmlDeviceGetNvLinkState(handle, link):
                return True
        except nvml.NVMLError:
            return False
    return False


# --- helpers --------------------------------------------------------------------------------


def _catalog_name(name: str) -> str | None:
    try:
        return resolve_gpu(name).spec.name
    except UnknownGpuError:
        return None


def _reported(cell: str) -> str | None:
    value = cell.strip()
    return None if value.lower() in _NOT_REPORTED else value


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _column(text: str, fields: Sequence[str], field: str) -> list[str | None]:
    if field not in fields:
        return []
    position = fields.index(field)
    return [
        _reported(row[position])
        for row in csv.reader(text.splitlines(), skipinitialspace=True)
        if len(row) == len(fields)
    ]


def _reported_field(result: ToolOutput, fields: Sequence[str], field: str) -> str | None:
    return next((value for value in _column(result.stdout, fields, field) if value), None)


def detected_entries(inventory: GpuInventory) -> list[dict[str, Any]]:
    """Each detected GPU with the keys of `gpus --json` plus what the driver reports.

    Datasheet fields come from the catalog row the name resolved to (None when unknown);
    name, memory, compute capability and interconnect are what this machine reports, and
    free memory, driver and CUDA versions are added.
    """
    rows = {spec.name: spec for spec in load_gpu_catalog()}
    entries = []
    for gpu in inventory.gpus:
        spec = rows.get(gpu.catalog_name or "")
        entry: dict[str, Any] = (
            gpu_entry(spec) if spec else dict.fromkeys([*GpuSpec.model_fields, "memory_gib"])
        )
        interconnect = inventory.interconnect
        if interconnect == "unknown":
            interconnect = spec.interconnect if spec else "unknown"
        entry.update(
            name=gpu.name,
            vendor=gpu.vendor,
            aliases=entry["aliases"] or [],
            memory_bytes=gpu.memory_bytes,
            memory_gib=bytes_to_gib(gpu.memory_bytes),
            compute_capability=gpu.compute_capability or entry["compute_capability"],
            interconnect=interconnect,
            index=gpu.index,
            uuid=gpu.uuid,
            catalog_name=gpu.catalog_name,
            mig_profile=gpu.mig_profile,
            free_memory_bytes=gpu.free_bytes,
            free_memory_gib=bytes_to_gib(gpu.free_bytes) if gpu.free_bytes is not None else None,
            driver_version=inventory.driver_version,
            cuda_version=inventory.cuda_version,
        )
        entries.append(entry)
    return entries


# Memory the CUDA context, cuBLAS workspaces and NCCL communicators take before vLLM reads
# free memory at start-up (VLLM-NOTES 1.1: they are created "BEFORE taking memory snapshot").
STARTUP_CONTEXT_BYTES = 512 * MiB


@dataclass(frozen=True)
class LocalHardware:
    """The detected GPUs reduced to what a plan needs: one model, a count and a link."""

    spec: GpuSpec | None
    name: str
    memory_bytes: int
    free_bytes: int | None
    count: int
    interconnect: Interconnect
    notes: tuple[str, ...]


def local_hardware(inventory: GpuInventory) -> LocalHardware:
    """Plan on the first GPU's model; mixed machines count only the GPUs of that model.

    Memory is the catalog's runtime-reported total when the name resolves (the driver's
    figure includes memory it reserves), else the driver's; MIG slices always use theirs.
    Free memory is the least free among the counted GPUs.
    """
    first = inventory.gpus[0]
    same = [
        gpu
        for gpu in inventory.gpus
        if (gpu.name, gpu.mig_profile) == (first.name, first.mig_profile)
    ]
    notes = [
        f"Detected {len(inventory.gpus)} GPU(s) via {inventory.source}: planning on "
        f"{len(same)}x {first.name}{f' MIG {first.mig_profile}' if first.mig_profile else ''}."
    ]
    if len(same) < len(inventory.gpus):
        notes.append("Other detected GPU models were left out; pass --gpu to plan for them.")
    spec = {s.name: s for s in load_gpu_catalog()}.get(first.catalog_name or "")
    memory = spec.memory_bytes if spec and first.mig_profile is None else first.memory_bytes
    frees = [gpu.free_bytes for gpu in same if gpu.free_bytes is not None]
    interconnect = inventory.interconnect
    if interconnect == "unknown" and spec is not None:
        interconnect = spec.interconnect
    return LocalHardware(
        spec=spec,
        name=first.name,
        memory_bytes=memory,
        free_bytes=min(frees) if frees else None,
        count=len(same),
        interconnect=interconnect,
        notes=(*notes, *inventory.notes),
    )


def startup_free_memory_check(
    free_bytes: int, total_bytes: int, utilization: float
) -> tuple[bool, float]:
    """Will vLLM start with `free_bytes` free, and the highest utilization that would.

    vLLM refuses to start when the free memory it measures (after creating its CUDA context,
    `STARTUP_CONTEXT_BYTES`) is below ceil(total x utilization).
    """
    usable = free_bytes - STARTUP_CONTEXT_BYTES
    requested = math.ceil(total_bytes * utilization)
    fitting = max(0.0, math.floor(usable / total_bytes * 100) / 100)
    return usable >= requested, fitting
