"""GPU memory the way vLLM 0.33 accounts it, plus the workload view of SPEC 5.2.

All quantities are bytes (int) per GPU unless a name says otherwise. The start-up
arithmetic follows vLLM's worker: requested = ceil(total x utilization); the KV cache gets
what is left after weights, the activation peak, non-torch growth and the CUDA-graph
estimate; capacity counts whole blocks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.units import GiB, MiB

logger = logging.getLogger(__name__)

# Fitted to vLLM >= 0.21 start-up logs on H100 (Llama-3.1-8B, Qwen3-0.6B/32B, gpt-oss):
# the sampler's fp32 logits pipeline costs about this many bytes per (sequence x vocab) entry.
LOGITS_BYTES_PER_ENTRY = 36
# Forward-pass activations per batched token: gate/up outputs plus a few hidden-size buffers.
ACTIVATION_HIDDEN_BUFFERS = 4
NON_TORCH_BASE_BYTES = 150 * MiB
NON_TORCH_TP_BYTES = 400 * MiB
CUDA_GRAPH_BASE_BYTES = 150 * MiB
CUDA_GRAPH_PER_GRAPH_BYTES = 4 * MiB
MAX_CUDA_GRAPH_CAPTURE = 512
DEFAULT_BLOCK_SIZE = 16
# DeepSeek V3.2 indexer cache: fp8 keys plus one fp32 scale per this many values.
INDEXER_QUANT_BLOCK = 128


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
    return int(layers * 2 * _kv_heads_per_gpu(meta, tp) * meta.head_dim * kv_dtype_bytes)


def replica_kv_bytes_per_token(meta: ModelMetadata, kv_dtype_bytes: float, tp: int, pp: int) -> int:
    """KV bytes one token occupies summed over every GPU of a replica (replicated heads count)."""
    per_stage = kv_bytes_per_token(meta, kv_dtype_bytes, tp, 1)
    return per_stage * tp


def weights_bytes_per_gpu(meta: ModelMetadata, total_weights: int, tp: int, pp: int) -> int:
    """One GPU's share of the weights; K/V projections replicate once TP exceeds the KV heads."""
    if meta.attention == "mla" or meta.num_kv_heads >= tp:
        return math.ceil(total_weights / (tp * pp))
    kv_proj_params = meta.kv_layers * 2 * meta.hidden_size * meta.num_kv_heads * meta.head_dim
    kv_proj_bytes = int(total_weights * kv_proj_params / meta.params_total)
    replicated = kv_proj_bytes * tp // meta.num_kv_heads
    return math.ceil((total_weights - kv_proj_bytes + replicated) / (tp * pp))


def activation_peak_bytes(meta: ModelMetadata, settings: EngineSettings) -> int:
    """Transient torch peak of vLLM's profile run: logits pipeline plus forward activations."""
    num_reqs = min(settings.max_num_seqs, settings.max_num_batched_tokens)
    logits = LOGITS_BYTES_PER_ENTRY * num_reqs * meta.vocab_size
    mlp_width = meta.intermediate_size or 4 * meta.hidden_size
    per_token = (
        2 * mlp_width // settings.tensor_parallel_size
        + ACTIVATION_HIDDEN_BUFFERS * meta.hidden_size
    )
    forward = int(settings.max_num_batched_tokens * per_token * settings.weight_dtype_bytes)
    logger.debug("activation: logits=%d forward=%d bytes", logits, forward)
    return logits + forward


def non_torch_bytes(tp: int, pp: int) -> int:
    """Memory outside torch that grows after vLLM's baseline (allocator, NCCL buffers)."""
    return NON_TORCH_BASE_BYTES + (NON_TORCH_TP_BYTES if tp * pp > 1 else 0)


def cudagraph_capture_sizes(max_num_seqs: int) -> list[int]:
    """Batch sizes vLLM captures by default: 1, 2, 4, then steps of 8 and 16 up to the max."""
    max_size = min(max_num_seqs * 2, MAX_CUDA_GRAPH_CAPTURE)
    sizes = [1, 2, 4, *range(8, 256, 8), *range(256, max_size + 1, 16)]
    return [s for s in sizes if s <= max_size]


def cuda_graph_bytes(meta: ModelMetadata, settings: EngineSettings) -> int:
    """vLLM's CUDA-graph memory estimate (0 with --enforce-eager)."""
    if settings.enforce_eager:
        return 0
    n_graphs = len(cudagraph_capture_sizes(settings.max_num_seqs))
    depth = max(1.0, meta.num_layers / 32)
    return int(CUDA_GRAPH_BASE_BYTES + n_graphs * CUDA_GRAPH_PER_GRAPH_BYTES * depth)


def plan_gpu_budget(
    meta: ModelMetadata, total_bytes: int, weights_total: int, settings: EngineSettings
) -> GpuBudget:
    """Replay vLLM's start-up accounting for the worker with the fewest KV blocks."""
    tp, pp = settings.tensor_parallel_size, settings.pipeline_parallel_size
    requested = math.ceil(total_bytes * settings.gpu_memory_utilization)
    weights = weights_bytes_per_gpu(meta, weights_total, tp, pp)

    if settings.overhead_bytes is not None:
        activation, non_torch, graphs = settings.overhead_bytes, 0, 0
    else:
        activation = activation_peak_bytes(meta, settings)
        non_torch = non_torch_bytes(tp, pp)
        graphs = cuda_graph_bytes(meta, settings)
    available = requested - weights - activation - non_torch - graphs

    per_token = kv_bytes_per_token(meta, settings.kv_dtype_bytes, tp, pp)
    per_block = per_token * settings.block_size
    blocks_per_request = math.ceil(settings.max_model_len / settings.block_size)
    num_blocks = max(0, available) // per_block
    max_concurrency = num_blocks / blocks_per_request
    estimated_len = max(0, (num_blocks - 1) * settings.block_size)

    failure = _startup_failure(requested, weights, available, per_block, blocks_per_request)
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
        kv_tokens=int(max_concurrency * settings.max_model_len),
        will_start=failure is None,
        failure=failure,
        estimated_max_model_len=estimated_len,
    )


def _startup_failure(
    requested: int, weights: int, available: int, per_block: int, blocks_per_request: int
) -> str | None:
    """The reason vLLM would refuse to start, or None."""
    if weights > requested:
        return (
            f"weights need {weights / GiB:.2f} GiB per GPU but the budget is "
            f"{requested / GiB:.2f} GiB"
        )
    if available <= 0:
        return "no memory left for the KV cache after weights and activations"
    if available - per_block < per_block * blocks_per_request:
        return "the KV cache cannot hold one request of max_model_len"
    return None


def max_sequences_at_context(
    free_bytes: int, context: int, kv_per_token: int, fragmentation: float
) -> int:
    """SPEC 5.2.6: how many sequences of `context` tokens the free bytes hold."""
    per_seq = context * kv_per_token * fragmentation
    return max(0, int(free_bytes // per_seq)) if per_seq > 0 else 0


def max_context_at_sequences(
    free_bytes: int, sequences: int, kv_per_token: int, fragmentation: float
) -> int:
    """SPEC 5.2.6: the longest context `sequences` concurrent requests can each have."""
    per_token = kv_per_token * fragmentation * sequences
    return max(0, int(free_bytes // per_token)) if per_token > 0 else 0
