"""Read the memory lines vLLM prints at start-up, in the wordings of 0.4 through 0.33.

Pure text parsing: `parse_startup_log(text)` returns what the log states (None where it is
silent). The search runs over the whole text, not line by line, so wrapped lines and
excerpts joined with " | " parse too. Where a figure is printed several times (one line
per worker) the last one is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

NUM = r"(-?[\d,]*\.?\d+)"


@dataclass
class StartupLog:
    """Figures a vLLM start-up log states (GiB per GPU unless named)."""

    vllm_version: str | None = None
    engine: str | None = None
    model: str | None = None
    tensor_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    block_size: int | None = None
    enforce_eager: bool | None = None
    total_gib: float | None = None
    weights_gib: float | None = None
    peak_torch_gib: float | None = None
    activation_gib: float | None = None
    non_torch_gib: float | None = None
    cuda_graph_gib: float | None = None
    kv_cache_gib: float | None = None
    num_gpu_blocks: int | None = None
    kv_cache_tokens: int | None = None
    max_concurrency: float | None = None
    kv_needed_gib: float | None = None
    estimated_max_model_len: int | None = None
    kv_capacity_tokens_from_error: int | None = None
    startup_error: str | None = None

    @property
    def memory_fields(self) -> dict[str, object]:
        """The memory figures found (the ones check-log compares)."""
        names = (
            "weights_gib",
            "activation_gib",
            "non_torch_gib",
            "cuda_graph_gib",
            "kv_cache_gib",
            "num_gpu_blocks",
            "kv_cache_tokens",
            "max_concurrency",
            "estimated_max_model_len",
            "kv_capacity_tokens_from_error",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    @property
    def failed_kv_check(self) -> bool:
        """vLLM refused to start: too little KV cache for one request, or none at all."""
        return (
            self.estimated_max_model_len is not None
            or self.kv_capacity_tokens_from_error is not None
            or (self.kv_cache_gib is not None and self.kv_cache_gib <= 0)
            or self.startup_error == "no memory left for the KV cache"
        )

    @property
    def started(self) -> bool:
        """False when the log shows vLLM failing at start-up (KV check, OOM, engine error)."""
        return not self.failed_kv_check and self.startup_error is None

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# (field, patterns). The first group of the first pattern that matches is the value.
_PATTERNS: list[tuple[str, list[str]]] = [
    (
        "vllm_version",
        [
            r"vLLM API server version v?([\w.+\-]+)",
            r"Initializing an? (?:V\d )?LLM engine \(v?([\w.+\-]+)\)",
            r"vLLM version v?([\w.+\-]+)",
        ],
    ),
    ("engine", [r"Initializing an? (V\d) LLM engine", r"(V1) LLM engine"]),
    (
        "model",
        [
            r"vllm serve\s+(?!-)(\S+)",
            r"'model':\s*'([^']+)'",
            r"\bmodel='([^']+)'",
            r"LLM\(\s*[\"']([^\"']+)[\"']",
        ],
    ),
    (
        "tensor_parallel_size",
        [
            r"tensor_parallel_size['\"]?\s*[:=]?\s*(\d+)",
            r"--tensor-parallel-size[ =](\d+)",
            r"(?:^|\s)-tp[ =](\d+)",
        ],
    ),
    (
        "pipeline_parallel_size",
        [r"pipeline_parallel_size['\"]?\s*[:=]\s*(\d+)", r"--pipeline-parallel-size[ =](\d+)"],
    ),
    (
        "max_model_len",
        [
            r"max_model_len['\"]?\s*[:=]?\s*(\d+)",
            r"--max-model-len[ =](\d+)",
            r"max_seq_len=(\d+)",
            r"Maximum concurrency for ([\d,]+) tokens per request",
            r"models's max seq len \((\d+)\)",
            r"model's max seq len \((\d+)\)",
        ],
    ),
    (
        "gpu_memory_utilization",
        [
            r"gpu_memory_utilization['\"]?\s*[:=]?\s*\(?([\d.]+)",
            r"--gpu-memory-utilization[ =]([\d.]+)",
        ],
    ),
    ("max_num_seqs", [r"max_num_seqs['\"]?\s*[:=]\s*(\d+)", r"--max-num-seqs[ =](\d+)"]),
    (
        "max_num_batched_tokens",
        [r"max_num_batched_tokens['\"]?\s*[:=]\s*(\d+)", r"--max-num-batched-tokens[ =](\d+)"],
    ),
    ("block_size", [r"block_size['\"]?\s*[:=]\s*(\d+)", r"--block-size[ =](\d+)"]),
    (
        "total_gib",
        [
            rf"total_gpu_memory\s*\(?=?\s*{NUM}\s*GiB",
            rf"Free memory on device \({NUM}/{NUM} GiB\)",
        ],
    ),
    (
        "weights_gib",
        [
            rf"Loading model weights took {NUM} ?GB",
            rf"Model loading took {NUM} ?Gi?B",
            rf"model weights take {NUM} ?GiB",
        ],
    ),
    ("peak_torch_gib", [rf"peak_torch_memory={NUM} ?GiB"]),
    (
        "activation_gib",
        [
            rf"PyTorch activation peak memory takes {NUM} ?GiB",
            rf"(?:torch|activation) peak memory(?: increase)?[:= ]+{NUM} ?GiB",
        ],
    ),
    ("non_torch_gib", [rf"non_torch_memory(?: takes |=){NUM} ?GiB"]),
    (
        "cuda_graph_gib",
        [
            rf"Graph capturing.{{0,60}}?took {NUM} ?GiB",
            rf"CUDA graph pool memory: {NUM} GiB \(actual\)",
            rf"CUDAGraph memory[:= ]+{NUM} ?GiB",
        ],
    ),
    (
        "kv_cache_gib",
        [
            rf"Available KV cache memory: {NUM} GiB",
            rf"the rest of the memory reserved for KV Cache is {NUM} ?GiB",
            rf"kv_cache_size={NUM} ?GiB",
            rf"available KV cache memory \({NUM} GiB\)",
        ],
    ),
    (
        "num_gpu_blocks",
        [r"(?:#\s*)?(?:GPU|CUDA|cuda|gpu) blocks: ([\d,]+)", r"num_gpu_blocks is: ([\d,]+)"],
    ),
    ("kv_cache_tokens", [r"GPU KV cache size: ([\d,]+) tokens"]),
    ("max_concurrency", [rf"tokens per request: {NUM}x"]),
    ("kv_needed_gib", [rf"\(?{NUM} GiB KV cache is needed"]),
    ("estimated_max_model_len", [r"estimated maximum model length is ([\d,]+)"]),
    (
        "kv_capacity_tokens_from_error",
        [r"maximum number of tokens that can be stored in KV cache \(([\d,]+)\)"],
    ),
]
# vLLM's own start-up failures, most specific first: (pattern, what the report calls it).
_STARTUP_ERRORS = [
    (r"No available memory for the cache blocks", "no memory left for the KV cache"),
    (r"(?:CUDA out of memory|OutOfMemoryError|HIP out of memory)", "out of memory"),
    (
        r"(?:EngineCore failed to start|Engine core initialization failed)",
        "engine failed to start",
    ),
]
_TOTAL_FROM_FREE = re.compile(rf"Free memory on device \({NUM}/{NUM} GiB\)")
_EAGER = re.compile(r"enforce_eager['\"]?\s*[:=]\s*(True|False)|(--enforce-eager)")


def _convert(name: str, raw: str) -> object:
    text = raw.replace(",", "")
    kind = StartupLog.__dataclass_fields__[name].type
    if "int" in str(kind):
        return int(float(text))
    if "float" in str(kind):
        return float(text)
    return raw.strip().rstrip(",;")


def parse_startup_log(text: str) -> StartupLog:
    """Every figure the text states; fields it does not state stay None."""
    log = StartupLog()
    for name, patterns in _PATTERNS:
        for pattern in patterns:
            matches = list(re.finditer(pattern, text))
            if matches:
                setattr(log, name, _convert(name, matches[-1].group(1)))
                break
    free = _TOTAL_FROM_FREE.search(text)
    if free and log.total_gib is not None:
        log.total_gib = float(free.group(2))
    for pattern, what in _STARTUP_ERRORS:
        if re.search(pattern, text):
            log.startup_error = what
            break
    eager = _EAGER.search(text)
    if eager:
        log.enforce_eager = eager.group(1) == "True" or eager.group(2) is not None
    if log.activation_gib is None and log.peak_torch_gib is not None and log.weights_gib:
        log.activation_gib = round(log.peak_torch_gib - log.weights_gib, 2)
    if log.engine is None:
        if re.search(r"gpu_worker\.py|kv_cache_utils\.py|gpu_model_runner\.py|EngineCore", text):
            log.engine = "V1"
        elif re.search(
            r"\bworker\.py|model_runner\.py|gpu_executor\.py|# (?:GPU|CUDA) blocks", text
        ):
            log.engine = "V0"
    return log
