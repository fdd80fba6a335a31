"""GPU memory the way vLLM 0.33 accounts it, plus the workload view of SPEC 5.2.

All quantities are bytes (int) per GPU unless a name says otherwise. The start-up
arithmetic follows vLLM's worker: requested = ceil(total x utilization); the KV cache gets
what is left after weights, the activation peak, non-torch growth and the CUDA-graph
estimate; capacity counts whole blocks.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.version import InvalidVersion, Version

from vllm_wizard.core.kv_groups import (
    AttentionLayers,
    CacheSettings,
    KvLayout,
    StateLayers,
    kv_capacity,
    max_len_that_fits,
    plan_kv_layout,
)
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.units import GiB, MiB

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Fitted constants, all in one place. They were fitted to the start-up lines in
# shared/reference/vllm-startup-memory.jsonl (benchmarks/memory_accuracy.py refits them
# leave-one-out to report honest errors); the formulas they feed are physics, not lookups.
#
# V1 activation peak = max(forward pass, hidden states kept + sampler pipeline). The V1
# profile run ends with a dummy sampler run over min(max_num_seqs, max_num_batched_tokens)
# rows of fp32 logits (logits, probabilities, sorted copies for top-k/top-p, indices):
# about 38 bytes per (row x vocab) entry on every H100 log with a printed peak
# (Llama-3.1-8B/70B, Qwen3-0.6B/32B, gpt-oss-20b/120b; spread 38.3 to 38.6).
LOGITS_BYTES_PER_ENTRY = 38.3
# V0's sampler ran over max_num_seqs rows with a lighter pipeline (fp32 logits + softmax).
V0_LOGITS_BYTES_PER_ENTRY = 4.0
# Forward activations per batched token: gate/up output (2 x intermediate / TP) plus half
# the activation output live at the MLP peak, plus a few hidden-size buffers. The factor 2.5
# fits V0 logs, whose profile run pushes max_model_len tokens through one forward pass.
FORWARD_MLP_FACTOR = 2.5
ACTIVATION_HIDDEN_BUFFERS = 4
# Memory outside torch after the baseline snapshot: allocator and cuBLAS growth (~0.13 GiB on
# single-GPU V1 logs), plus NCCL/custom all-reduce buffers once TP or PP > 1 (0.54 GiB at TP 2).
NON_TORCH_BASE_BYTES = 136 * MiB
NON_TORCH_TP_BYTES = 416 * MiB
# vLLM >= 0.21 deducts a CUDA-graph estimate before sizing the KV cache.
CUDA_GRAPH_BASE_BYTES = 150 * MiB
CUDA_GRAPH_PER_GRAPH_BYTES = 4 * MiB
MAX_CUDA_GRAPH_CAPTURE = 512
DEFAULT_BLOCK_SIZE = 16
# DeepSeek V3.2 indexer cache: fp8 keys plus one fp32 scale per this many values.
INDEXER_QUANT_BLOCK = 128

# ---------------------------------------------------------------------------------------
# Release eras (PEP 440 versions). See VLLM-NOTES section 5.3 and the table.
Era = Literal["v0", "v1", "v1-graphs"]
V1_ENGINE_SINCE = Version("0.8.0")
GRAPH_DEDUCTION_SINCE = Version("0.21.0")
GPU_BATCH_DEFAULTS_SINCE = Version("0.10.2")
# Sliding-window layers reserve window + in-flight tokens per request. 0.33 counts two
# batches in flight (async scheduling); vLLM 0.21 counted one (gemma-4-E2B start-up log,
# 129.66x). No log pins the release in between that changed it; assumed from 0.22.
TWO_BATCHES_IN_FLIGHT_SINCE = Version("0.22.0")
# vLLM 0.33's Mamba2 mixer exports a prefill checkpoint: one more state page per request
# while prefix caching is on. Older releases (the 0.24 Qwen3.6 log) kept two pages.
MAMBA2_CHECKPOINT_SINCE = Version("0.33.0")
# 0.33's Gated DeltaNet exports one too where FlashInfer's GDN prefill runs (Hopper), and
# its checkpoints sit on a 64-token grid that the attention block size must follow.
GDN_FLASHINFER_CHECKPOINT_ALIGNMENT = 64
V0_CHUNKED_PREFILL_ABOVE = 32768  # V0 turned chunked prefill on above this context
V0_DEFAULT_MAX_NUM_SEQS = 256
LARGE_GPU_DEFAULT_BYTES = 160 * GiB
BIG_GPU_DEFAULT_BYTES = 70 * GiB
FALLBACK_BATCHED_TOKENS = 2048
_VERSION_RE = re.compile(r"(\d+\.\d+(?:\.\d+)*(?:[.+\-]?(?:rc|dev|post|a|b)\d*)*(?:\+[\w.]+)?)")


def parse_vllm_version(text: str) -> Version:
    """The release a version string names: '0.15.2rc1.dev93+g11a4c9d30', 'v0.7.2', '~v0.6.4'.

    Raises InvalidParameterError when no version can be read.
    """
    try:
        return Version(text.strip().lstrip("v"))
    except InvalidVersion:
        pass
    for match in _VERSION_RE.finditer(text):
        try:
            return Version(match.group(1))
        except InvalidVersion:
            continue
    raise InvalidParameterError(
        f"--vllm-version {text!r} is not a version; pass one like 0.33.0 or 0.7.3.",
        field="vllm_version",
    )


@functools.lru_cache(maxsize=64)
def vllm_era(version: str | Version) -> Era:
    """Which accounting a release uses: V0 (< 0.8), V1 (0.8 to 0.20), V1 with graphs (>= 0.21)."""
    v = version if isinstance(version, Version) else parse_vllm_version(version)
    base = Version(v.base_version)
    if base < V1_ENGINE_SINCE:
        return "v0"
    return "v1" if base < GRAPH_DEDUCTION_SINCE else "v1-graphs"


def default_gpu_memory_utilization(version: str | Version) -> float:
    """gpu_memory_utilization when the flag is omitted: 0.90, 0.92 from v0.21."""
    return 0.92 if vllm_era(version) == "v1-graphs" else 0.90


def default_batch_limits(
    version: str | Version, total_bytes: int, gpu_name: str, max_model_len: int
) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) that `vllm serve` picks when both are omitted.

    V0: 256 sequences; the profile batch is max_model_len tokens, or 2048 once chunked
    prefill is on (above 32K context). V1: 2048/256 until hardware defaults arrived, then
    by GPU size (VLLM-NOTES 5.3), clamped to max_num_seqs x max_model_len.
    """
    v = version if isinstance(version, Version) else parse_vllm_version(version)
    if vllm_era(v) == "v0":
        if max_model_len > V0_CHUNKED_PREFILL_ABOVE:
            return V0_DEFAULT_MAX_NUM_SEQS, FALLBACK_BATCHED_TOKENS
        return V0_DEFAULT_MAX_NUM_SEQS, max(max_model_len, FALLBACK_BATCHED_TOKENS)
    seqs, tokens = 256, FALLBACK_BATCHED_TOKENS
    if Version(v.base_version) >= GPU_BATCH_DEFAULTS_SINCE:
        name = gpu_name.upper()
        if total_bytes >= LARGE_GPU_DEFAULT_BYTES:
            seqs, tokens = 1024, 16384
        elif total_bytes >= BIG_GPU_DEFAULT_BYTES and "A100" not in name and "GB10" not in name:
            seqs, tokens = 1024, 8192
    tokens = min(seqs * max_model_len, tokens)
    return min(seqs, tokens), tokens


@dataclass(frozen=True)
class ComponentCorrection:
    """Bytes to add to each estimated component (from a vLLM log, see core/corrections.py)."""

    activation_bytes: int = 0
    non_torch_bytes: int = 0
    cuda_graph_bytes: int = 0
    weights_bytes: int = 0


@dataclass(frozen=True)
class Mxfp4Kernel:
    """The MXFP4 MoE backend vLLM picks for a GPU and the multiples it pads experts to."""

    name: str = "none"
    hidden_align: int = 1
    inter_align: int = 1


@dataclass(frozen=True)
class EngineSettings:
    """The vLLM engine arguments that move memory."""

    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    enforce_eager: bool
    gpu_memory_utilization: float
    weight_dtype_bytes: float
    kv_dtype_bytes: float
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    overhead_bytes: int | None = None
    vllm_version: str = "0.33.0"
    corrections: ComponentCorrection = field(default_factory=ComponentCorrection)
    hybrid_kv_manager: bool = True
    prefix_caching: bool = True
    gdn_flashinfer_prefill: bool = False
    moe_kernel: Mxfp4Kernel = field(default_factory=Mxfp4Kernel)
    expert_parallel_size: int = 1


@dataclass(frozen=True)
class GpuBudget:
    """vLLM's start-up view of the worker with the fewest KV blocks (bytes unless named)."""

    total_bytes: int
    requested_bytes: int
    weights_bytes: int
    activation_bytes: int
    non_torch_bytes: int
    cuda_graph_bytes: int
    kv_available_bytes: int
    kv_bytes_per_token: int
    bytes_per_block: int
    num_blocks: int
    blocks_per_request: int
    max_concurrency: float
    kv_tokens: int
    will_start: bool
    failure: str | None
    estimated_max_model_len: int
    kv_layout: KvLayout

    @property
    def block_size(self) -> int:
        """The KV block size vLLM ends up with (raised for Mamba hybrids), tokens."""
        return self.kv_layout.block_size

    @property
    def overhead_bytes(self) -> int:
        """Activation peak + non-torch memory + CUDA-graph estimate."""
        return self.activation_bytes + self.non_torch_bytes + self.cuda_graph_bytes


def embedding_params(meta: ModelMetadata) -> int:
    """Parameters in the input embedding and (untied) lm_head."""
    rows = meta.vocab_size * meta.hidden_size
    return rows if meta.tie_word_embeddings else 2 * rows


def model_weights_bytes(
    meta: ModelMetadata,
    weight_dtype_bytes: float,
    quantization: str | None,
    bytes_per_quantized_param: float | None,
) -> int:
    """Bytes of all weights as vLLM loads them, over every GPU.

    A quantized checkpoint with a known size loads at that size. An unquantized checkpoint
    loads at params x dtype bytes; online quantization (`bytes_per_quantized_param`) shrinks
    every parameter but the embeddings.
    """
    if meta.quantization is not None and meta.weights_bytes is not None:
        return meta.weights_bytes
    if quantization is None or bytes_per_quantized_param is None:
        return int(meta.params_total * weight_dtype_bytes)
    embeddings = min(embedding_params(meta), meta.params_total)
    linear = meta.params_total - embeddings
    return int(embeddings * weight_dtype_bytes + linear * bytes_per_quantized_param)


def _kv_heads_per_gpu(meta: ModelMetadata, tp: int) -> int:
    return max(1, meta.num_kv_heads // tp)


def _layers_on_worst_stage(num_layers: int, pp: int) -> int:
    return math.ceil(num_layers / pp)


def kv_bytes_per_token(meta: ModelMetadata, kv_dtype_bytes: float, tp: int = 1, pp: int = 1) -> int:
    """KV bytes one token occupies on one GPU (the PP stage with the most KV layers).

    GQA/MHA: layers x 2 x max(1, kv_heads // TP) x head_dim x dtype bytes.
    MLA: layers x (kv_lora_rank + qk_rope_head_dim) x dtype bytes, not split by TP, plus
    the sparse-attention indexer's fp8 keys and scales where the model has one.
    """
    layers = _layers_on_worst_stage(meta.kv_layers, pp)
    if meta.attention == "mla" and meta.mla_kv_dim is not None:
        indexer = 0
        if meta.index_head_dim is not None:
            indexer = meta.index_head_dim + meta.index_head_dim // INDEXER_QUANT_BLOCK * 4
        return int(layers * meta.mla_kv_dim * kv_dtype_bytes) + layers * indexer
    if meta.full_attention_head_dim is None and meta.full_attention_kv_heads is None:
        return int(layers * 2 * _kv_heads_per_gpu(meta, tp) * meta.head_dim * kv_dtype_bytes)
    return _split_shape_kv_bytes(meta, layers, kv_dtype_bytes, tp)


def _split_shape_kv_bytes(meta: ModelMetadata, layers: int, kv_dtype_bytes: float, tp: int) -> int:
    """Sliding layers at head_dim/num_kv_heads, full layers at their own shape (Gemma 4).

    vLLM sizes each layer's K and V from that layer's head size and KV heads (K is stored
    twice where `attention_k_eq_v` reuses it as V). Full layers on the stage: their share of
    `layers`, rounded up.
    """
    full_total = meta.kv_layers - meta.sliding_window_layers
    full = -(-full_total * layers // meta.kv_layers)
    full_dim = meta.full_attention_head_dim or meta.head_dim
    full_heads = max(1, (meta.full_attention_kv_heads or meta.num_kv_heads) // tp)
    sliding = (layers - full) * 2 * _kv_heads_per_gpu(meta, tp) * meta.head_dim
    return int((sliding + full * 2 * full_heads * full_dim) * kv_dtype_bytes)


def _state_bytes_per_layer(meta: ModelMetadata, tp: int) -> int:
    """One request's Mamba2 / Gated DeltaNet state in one layer on one TP rank, bytes.

    conv: (heads x head_dim + 2 x groups x state_size) / TP channels x (kernel - 1), in the
    model dtype; ssm: heads / TP x head_dim x state_size, float32 where the config pins it.
    Mamba2 replicates its B/C groups to follow the heads when TP does not divide them.
    """
    groups = meta.state_groups
    if meta.state_kind == "mamba2" and groups % tp:
        groups += tp - groups
    channels = meta.state_heads * meta.state_head_dim + 2 * groups * meta.state_size
    model_bytes = 4 if meta.torch_dtype == "float32" else 2
    ssm_bytes = 4 if (meta.state_ssm_dtype or meta.torch_dtype) == "float32" else 2
    conv = channels // tp * (meta.state_conv_kernel - 1) * model_bytes
    ssm = max(1, meta.state_heads // tp) * meta.state_head_dim * meta.state_size * ssm_bytes
    return conv + ssm


def kv_layer_specs(
    meta: ModelMetadata,
    kv_dtype_bytes: float,
    tp: int = 1,
    pp: int = 1,
    vllm_version: str = "0.33.0",
    gdn_flashinfer_prefill: bool = False,
) -> tuple[list[AttentionLayers], list[StateLayers]]:
    """The cache-holding layers of the PP stage with the most of them, as vLLM specs them.

    Attention layers carry their KV bytes per token on one GPU (full and sliding apart);
    Mamba / linear-attention layers carry one request's state bytes.
    """
    layers = _layers_on_worst_stage(meta.kv_layers, pp)
    states: list[StateLayers] = []
    if meta.state_kind is not None and meta.state_layers:
        count = _layers_on_worst_stage(meta.state_layers, pp)
        since = Version(parse_vllm_version(vllm_version).base_version) >= MAMBA2_CHECKPOINT_SINCE
        gdn = meta.state_kind == "gated_delta_net" and gdn_flashinfer_prefill
        checkpoint = 1 if since and (meta.state_kind == "mamba2" or gdn) else 0
        alignment = GDN_FLASHINFER_CHECKPOINT_ALIGNMENT if since and gdn else 1
        states.append(StateLayers(count, _state_bytes_per_layer(meta, tp), checkpoint, alignment))
    if meta.attention == "mla" and meta.mla_kv_dim is not None:
        per_layer = kv_bytes_per_token(meta, kv_dtype_bytes, tp, pp) // layers
        return [AttentionLayers("full", layers, per_layer)], states
    full = -(-(meta.kv_layers - meta.sliding_window_layers) * layers // meta.kv_layers)
    kv_heads = _kv_heads_per_gpu(meta, tp)
    sliding_bytes = int(2 * kv_heads * meta.head_dim * kv_dtype_bytes)
    full_dim = meta.full_attention_head_dim or meta.head_dim
    full_heads = max(1, (meta.full_attention_kv_heads or meta.num_kv_heads) // tp)
    full_bytes = int(2 * full_heads * full_dim * kv_dtype_bytes)
    attention = [AttentionLayers("full", full, full_bytes)]
    if layers > full:
        attention.append(
            AttentionLayers("sliding", layers - full, sliding_bytes, meta.sliding_window)
        )
    return attention, states


def kv_read_bytes_per_token(meta: ModelMetadata, settings: EngineSettings, context: int) -> int:
    """KV bytes a decode step reads for one sequence of `context` tokens on one GPU, per
    token of context: sliding-window and chunked layers read at most their window, Mamba
    layers their fixed state once."""
    attention, states = kv_layer_specs(
        meta,
        settings.kv_dtype_bytes,
        settings.tensor_parallel_size,
        settings.pipeline_parallel_size,
        settings.vllm_version,
        settings.gdn_flashinfer_prefill,
    )
    context = max(1, context)
    total = sum(
        spec.count * spec.bytes_per_token * (min(context, spec.window) if spec.window else context)
        for spec in attention
    )
    total += sum(state.count * state.state_bytes for state in states)
    return math.ceil(total / context)


def kv_layout(
    meta: ModelMetadata, settings: EngineSettings, max_model_len: int | None = None, pp: int = 0
) -> KvLayout:
    """vLLM's KV groups for one GPU at `max_model_len` (default: the settings'); pp=0: settings'."""
    attention, states = kv_layer_specs(
        meta,
        settings.kv_dtype_bytes,
        settings.tensor_parallel_size,
        pp or settings.pipeline_parallel_size,
        settings.vllm_version,
        settings.gdn_flashinfer_prefill,
    )
    cache = CacheSettings(
        block_size=settings.block_size,
        max_model_len=max(1, max_model_len or settings.max_model_len),
        max_num_batched_tokens=settings.max_num_batched_tokens,
        max_concurrent_batches=batches_in_flight(
            settings.vllm_version, settings.pipeline_parallel_size
        ),
        hybrid_manager=settings.hybrid_kv_manager,
        prefix_caching=settings.prefix_caching,
    )
    return _grouped(tuple(attention), tuple(states), cache)


@functools.lru_cache(maxsize=4096)
def _grouped(
    attention: tuple[AttentionLayers, ...], states: tuple[StateLayers, ...], cache: CacheSettings
) -> KvLayout:
    """plan_kv_layout, cached: `size` and the bisections ask for the same layouts often."""
    return plan_kv_layout(attention, states, cache)


@functools.lru_cache(maxsize=64)
def batches_in_flight(version: str, pp: int = 1) -> int:
    """Batches vLLM counts in flight when bounding sliding-window blocks per request:
    two with async scheduling, one per pipeline stage under PP (V1 model runner)."""
    base = Version(parse_vllm_version(version).base_version)
    return max(2, pp) if base >= TWO_BATCHES_IN_FLIGHT_SINCE else 1


def request_kv_bytes(meta: ModelMetadata, settings: EngineSettings, context: int) -> int:
    """KV bytes one request of `context` tokens reserves on one GPU of the widest stage.

    blocks per request x bytes per block of vLLM's grouping: sliding layers bounded by their
    window, Mamba state fixed per request.
    """
    layout = kv_layout(meta, settings, context)
    return layout.blocks_per_request * layout.bytes_per_block


def requests_that_fit(
    meta: ModelMetadata, settings: EngineSettings, num_blocks: int, context: int
) -> int:
    """Requests of `context` tokens decoding together in a KV pool of `num_blocks` blocks.

    Each holds its grouped blocks: full-attention layers the whole context, sliding-window
    layers only their window plus the token being decoded (vLLM frees the blocks that slid
    out), Mamba layers their fixed state.
    """
    if num_blocks <= 0:
        return 0
    decoding = replace(settings, max_num_batched_tokens=1)
    layout = kv_layout(meta, decoding, max(1, min(context, settings.max_model_len)))
    return num_blocks // max(1, layout.blocks_per_request)


def replica_request_kv_bytes(meta: ModelMetadata, settings: EngineSettings, context: int) -> int:
    """KV bytes one request of `context` tokens reserves summed over a replica's GPUs."""
    layout = kv_layout(meta, settings, context, pp=1)
    return layout.blocks_per_request * layout.bytes_per_block * settings.tensor_parallel_size


def replica_context_that_fits(
    meta: ModelMetadata, settings: EngineSettings, free_bytes: float, upper: int
) -> int:
    """The longest context (tokens, <= upper) whose one request fits in `free_bytes` of a
    replica (bisection on the grouped per-request cost)."""
    per_gpu = int(free_bytes / settings.tensor_parallel_size)
    if per_gpu <= 0:
        return 0
    return max_len_that_fits(lambda n: kv_layout(meta, settings, n, pp=1), per_gpu, upper)


def replica_kv_bytes_per_token(meta: ModelMetadata, kv_dtype_bytes: float, tp: int, pp: int) -> int:
    """KV bytes one token occupies summed over every GPU of a replica (replicated heads count)."""
    per_stage = kv_bytes_per_token(meta, kv_dtype_bytes, tp, 1)
    return per_stage * tp


def replica_headroom_bytes(budget: GpuBudget, gpus: int, workload_kv_bytes: float) -> int:
    """SPEC 4.2.1 headroom of one replica of `gpus` GPUs: target - weights - overhead - KV.

    `workload_kv_bytes` is the workload's KV over the replica's GPUs (per-request cost x
    concurrency x fragmentation).
    """
    spent = (budget.weights_bytes + budget.overhead_bytes) * gpus
    return int(budget.requested_bytes * gpus - spent - workload_kv_bytes)


def expert_share(meta: ModelMetadata) -> float:
    """Fraction of the parameters in routed experts, from total and active counts.

    active = shared + k/E x experts and total = shared + experts give
    experts = (total - active) x E / (E - k).
    """
    e, k = meta.num_experts, meta.num_experts_per_token
    if e <= k or meta.params_total <= meta.params_active:
        return 0.0
    experts = (meta.params_total - meta.params_active) * e / (e - k)
    return min(1.0, experts / meta.params_total)


def routed_expert_bytes(meta: ModelMetadata, total_weights: int) -> int:
    """Bytes of the routed experts within `total_weights` (MXFP4 experts at 4.25 bits while
    the rest stays 16-bit; otherwise the experts' share of the parameters)."""
    share = expert_share(meta)
    if meta.quantization == "mxfp4":
        return min(total_weights, int(share * meta.params_total * MXFP4_BYTES_PER_PARAM))
    return int(total_weights * share)


def weights_bytes_per_gpu(
    meta: ModelMetadata, total_weights: int, tp: int, pp: int, ep: int = 1
) -> int:
    """One GPU's share of the weights; K/V projections replicate once TP exceeds the KV heads.

    With expert parallelism over `ep` GPUs (TP x DP) each holds 1/ep of the routed experts,
    whole, and the rest split by TP as usual.
    """
    experts = routed_expert_bytes(meta, total_weights) if ep > 1 else 0
    dense = total_weights - experts
    if meta.attention == "mla" or meta.num_kv_heads >= tp:
        per_gpu = math.ceil(dense / (tp * pp))
    else:
        kv_proj_params = meta.kv_layers * 2 * meta.hidden_size * meta.num_kv_heads * meta.head_dim
        kv_proj_bytes = int(total_weights * kv_proj_params / meta.params_total)
        replicated = kv_proj_bytes * tp // meta.num_kv_heads
        per_gpu = math.ceil((dense - kv_proj_bytes + replicated) / (tp * pp))
    return per_gpu + math.ceil(experts / (ep * pp))


# MXFP4 bytes per parameter: 4-bit values plus one 8-bit scale per 32.
MXFP4_BYTES_PER_PARAM = 0.5 + 1 / 32
MXFP4_BLOCK = 32
# OAI Triton's Hopper scale layout pads each expert's scale rows to 2 x warps x 2 x 8 (8 warps).
TRITON_SCALE_ROW_ALIGN = 256
# vLLM bundles OAI's triton_kernels from 0.12 (PR 28788); before, pip installs had no Triton
# MXFP4 path. Until 0.25 (PR 46549) that path kept the original block scales after swizzling.
TRITON_KERNELS_BUNDLED_SINCE = Version("0.12.0")
TRITON_SCALES_FREED_SINCE = Version("0.25.0")


def mxfp4_moe_kernel(
    compute_capability: str | None, vendor: str, vllm_version: str = "0.33.0"
) -> Mxfp4Kernel:
    """The MXFP4 MoE kernel vLLM picks for a GPU (fused_moe/oracle/mxfp4.py in 0.33).

    OAI Triton on Hopper pads the intermediate width to 64; before 0.12 vLLM did not bundle
    triton_kernels, so a plain install fell back to Marlin there. FlashInfer TRT-LLM on
    datacenter Blackwell pads to 256/128; Marlin on Ampere, Ada and consumer Blackwell pads
    hidden to 256 and intermediate to 128; ROCm's AITER pads both to 256.
    """
    if vendor == "amd":
        return Mxfp4Kernel("aiter", 256, 256)
    major = int(compute_capability.split(".")[0]) if compute_capability else 0
    release = Version(parse_vllm_version(vllm_version).base_version)
    if major == 9 and release >= TRITON_KERNELS_BUNDLED_SINCE:
        return Mxfp4Kernel("triton", 1, 64)
    if major == 10:
        return Mxfp4Kernel("trtllm", 256, 128)
    return Mxfp4Kernel("marlin", 256, 128)


def mxfp4_load_overhead_bytes(meta: ModelMetadata, settings: EngineSettings) -> int:
    """Bytes per GPU that an MXFP4 checkpoint's experts grow by when vLLM loads them.

    Every backend pads each routed expert's gate/up (2 x I x H) and down (H x I) weights to
    its tile, I being the expert width split by TP (whole under expert parallelism, where a
    GPU holds 1/EP of the experts). The OAI Triton path also pads the
    swizzled scale rows to 256, widens gpt-oss's expert biases to float32 and, before 0.25,
    keeps the original block scales beside their swizzled copy.
    """
    if meta.quantization != "mxfp4" or not meta.num_experts:
        return 0
    kernel = settings.moe_kernel
    hidden = meta.hidden_size
    ep = settings.expert_parallel_size
    width = meta.moe_intermediate_size or meta.intermediate_size
    inter = width if ep > 1 else width // settings.tensor_parallel_size
    experts = math.ceil(meta.num_experts / ep)
    padded = _round_up(hidden, kernel.hidden_align) * _round_up(inter, kernel.inter_align)
    per_expert = 3 * (padded - hidden * inter) * MXFP4_BYTES_PER_PARAM
    if kernel.name == "triton":
        per_expert += _triton_extra_bytes_per_expert(meta, settings, hidden, inter)
    layers = math.ceil(meta.num_layers / settings.pipeline_parallel_size)
    return int(layers * experts * per_expert)


def _triton_extra_bytes_per_expert(
    meta: ModelMetadata, settings: EngineSettings, hidden: int, inter: int
) -> float:
    """Scale padding, float32 biases and (before 0.25) the kept scales of one expert."""
    gate_up_rows, down_rows = 2 * inter, hidden
    scales = gate_up_rows * hidden / MXFP4_BLOCK + down_rows * inter / MXFP4_BLOCK
    padding = (_round_up(gate_up_rows, TRITON_SCALE_ROW_ALIGN) - gate_up_rows) * (
        hidden / MXFP4_BLOCK
    ) + (_round_up(down_rows, TRITON_SCALE_ROW_ALIGN) - down_rows) * (inter / MXFP4_BLOCK)
    biases = (gate_up_rows + down_rows) * 2 if meta.model_type == "gpt_oss" else 0
    release = Version(parse_vllm_version(settings.vllm_version).base_version)
    kept = scales if release < TRITON_SCALES_FREED_SINCE else 0
    return padding + biases + kept


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def forward_activation_bytes(meta: ModelMetadata, settings: EngineSettings, tokens: int) -> int:
    """Peak of one forward pass over `tokens` tokens: the MLP's wide outputs dominate."""
    mlp_width = meta.intermediate_size or 4 * meta.hidden_size
    per_token = (
        FORWARD_MLP_FACTOR * mlp_width / settings.tensor_parallel_size
        + ACTIVATION_HIDDEN_BUFFERS * meta.hidden_size
    )
    return int(tokens * per_token * settings.weight_dtype_bytes)


def activation_peak_bytes(meta: ModelMetadata, settings: EngineSettings) -> int:
    """Transient torch peak of vLLM's profile run (the "activation peak" it prints).

    V1: max(forward pass, hidden states kept + sampler over min(seqs, batched tokens) rows).
    V0: one forward pass over the profile batch plus a lighter sampler over max_num_seqs rows.
    """
    tokens = settings.max_num_batched_tokens
    forward = forward_activation_bytes(meta, settings, tokens)
    if vllm_era(settings.vllm_version) == "v0":
        logits = V0_LOGITS_BYTES_PER_ENTRY * settings.max_num_seqs * meta.vocab_size
        peak = forward + int(logits)
    else:
        rows = min(settings.max_num_seqs, tokens)
        logits = int(LOGITS_BYTES_PER_ENTRY * rows * meta.vocab_size)
        hidden = int(tokens * meta.hidden_size * settings.weight_dtype_bytes)
        peak = max(forward, hidden + logits)
    logger.debug("activation: forward=%d peak=%d bytes", forward, peak)
    return max(0, peak + settings.corrections.activation_bytes)


def non_torch_bytes(tp: int, pp: int, correction: int = 0) -> int:
    """Memory outside torch that grows after vLLM's baseline (allocator, NCCL buffers)."""
    return NON_TORCH_BASE_BYTES + (NON_TORCH_TP_BYTES if tp * pp > 1 else 0) + correction


def cudagraph_capture_sizes(max_num_seqs: int) -> list[int]:
    """Batch sizes vLLM captures by default: 1, 2, 4, then steps of 8 and 16 up to the max."""
    max_size = min(max_num_seqs * 2, MAX_CUDA_GRAPH_CAPTURE)
    sizes = [1, 2, 4, *range(8, 256, 8), *range(256, max_size + 1, 16)]
    return [s for s in sizes if s <= max_size]


@functools.lru_cache(maxsize=1024)
def _capture_count(max_num_seqs: int) -> int:
    """How many CUDA graphs vLLM captures (cached: `size` asks for the same few many times)."""
    return len(cudagraph_capture_sizes(max_num_seqs))


def cuda_graph_bytes(meta: ModelMetadata, settings: EngineSettings) -> int:
    """CUDA-graph memory deducted before the KV cache: vLLM >= 0.21 only, 0 when eager.

    Earlier releases capture graphs after the KV cache is allocated, out of the headroom
    left by gpu_memory_utilization, so nothing is deducted.
    """
    if settings.enforce_eager or vllm_era(settings.vllm_version) != "v1-graphs":
        return 0
    n_graphs = _capture_count(settings.max_num_seqs)
    depth = max(1.0, meta.num_layers / 32)
    estimate = int(CUDA_GRAPH_BASE_BYTES + n_graphs * CUDA_GRAPH_PER_GRAPH_BYTES * depth)
    return max(0, estimate + settings.corrections.cuda_graph_bytes)


def plan_gpu_budget(
    meta: ModelMetadata, total_bytes: int, weights_total: int, settings: EngineSettings
) -> GpuBudget:
    """Replay vLLM's start-up accounting for the worker with the fewest KV blocks."""
    tp, pp = settings.tensor_parallel_size, settings.pipeline_parallel_size
    requested = math.ceil(total_bytes * settings.gpu_memory_utilization)
    weights = weights_bytes_per_gpu(
        meta, weights_total, tp, pp, settings.expert_parallel_size
    ) + mxfp4_load_overhead_bytes(meta, settings)
    weights = max(0, weights + settings.corrections.weights_bytes)

    if settings.overhead_bytes is not None:
        activation, non_torch, graphs = settings.overhead_bytes, 0, 0
    else:
        activation = activation_peak_bytes(meta, settings)
        non_torch = non_torch_bytes(tp, pp, settings.corrections.non_torch_bytes)
        graphs = cuda_graph_bytes(meta, settings)
    available = requested - weights - activation - non_torch - graphs

    per_token = kv_bytes_per_token(meta, settings.kv_dtype_bytes, tp, pp)
    layout = kv_layout(meta, settings)
    per_block = layout.bytes_per_block
    blocks_per_request = layout.blocks_per_request
    num_blocks, max_concurrency, kv_tokens = kv_capacity(layout, available, settings.max_model_len)
    estimated_len = _estimated_max_len(meta, settings, layout, num_blocks, available)

    failure = _startup_failure(
        settings, requested, weights, available, per_block, blocks_per_request, estimated_len
    )
    return GpuBudget(
        total_bytes=total_bytes,
        requested_bytes=requested,
        weights_bytes=weights,
        activation_bytes=activation,
        non_torch_bytes=non_torch,
        cuda_graph_bytes=graphs,
        kv_available_bytes=available,
        kv_bytes_per_token=per_token,
        bytes_per_block=per_block,
        num_blocks=num_blocks,
        blocks_per_request=blocks_per_request,
        max_concurrency=max_concurrency,
        kv_tokens=kv_tokens,
        will_start=failure is None,
        failure=failure,
        estimated_max_model_len=estimated_len,
        kv_layout=layout,
    )


def _estimated_max_len(
    meta: ModelMetadata, settings: EngineSettings, layout: KvLayout, num_blocks: int, available: int
) -> int:
    """vLLM's "estimated maximum model length": whole blocks for attention-only models, a
    bisection over the grouped per-request cost for hybrids."""
    if not layout.hybrid:
        return num_blocks * layout.block_size
    upper = max(settings.max_model_len, num_blocks * layout.block_size)
    return max_len_that_fits(lambda n: kv_layout(meta, settings, n), max(0, available), upper)


def _startup_failure(
    settings: EngineSettings,
    requested: int,
    weights: int,
    available: int,
    per_block: int,
    blocks_per_request: int,
    estimated_len: int,
) -> str | None:
    """vLLM's own start-up error, in its wording and numbers, or None when it starts."""
    if weights > requested:
        return (
            f"weights need {weights / GiB:.2f} GiB per GPU but the budget "
            f"(total x gpu_memory_utilization) is {requested / GiB:.2f} GiB; "
            "vLLM runs out of memory while loading"
        )
    if available <= 0:
        return (
            "No available memory for the cache blocks "
            f"({available / GiB:.2f} GiB left after weights and activations). "
            "Try increasing `gpu_memory_utilization` when initializing the engine"
        )
    if blocks_per_request > available // per_block:
        if vllm_era(settings.vllm_version) == "v0":
            return (
                f"The model's max seq len ({settings.max_model_len}) is larger than the maximum "
                f"number of tokens that can be stored in KV cache ({estimated_len}). Try "
                "increasing `gpu_memory_utilization` or decreasing `max_model_len`"
            )
        needed = blocks_per_request * per_block
        return (
            "To serve at least one request with the models's max seq len "
            f"({settings.max_model_len}), ({needed / GiB:.1f} GiB KV cache is needed, which is "
            f"larger than the available KV cache memory ({available / GiB:.2f} GiB). Based on "
            f"the available memory, the estimated maximum model length is {estimated_len}"
        )
    return None


def max_sequences_at_context(free_bytes: int, request_bytes: int, fragmentation: float) -> int:
    """SPEC 5.2.6: how many requests, each reserving `request_bytes` of KV, the free bytes hold."""
    per_seq = request_bytes * fragmentation
    return max(0, int(free_bytes // per_seq)) if per_seq > 0 else 0
