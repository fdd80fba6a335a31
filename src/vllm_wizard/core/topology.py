"""Where a plan runs: GPU vendor, nodes per instance, instances, and how replicas are served.

A plan's layout (TP inside a node, PP across nodes, data-parallel ranks, replicas) decides
which deployment files are written: one server or several, one node or a group of nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vllm_wizard.core.gpu_catalog import load_gpu_catalog
from vllm_wizard.schemas.plan import PlanResult

Vendor = Literal["nvidia", "amd"]
ReplicaMode = Literal["single", "data_parallel", "instances"]


@dataclass(frozen=True)
class Topology:
    """How one plan maps onto machines; counts are GPUs, nodes or vLLM servers."""

    vendor: Vendor
    gpus_per_server: int  # TP x PP x DP: the GPUs one `vllm serve` process group uses
    nodes_per_server: int  # nodes one server spans (PP stages across nodes)
    gpus_per_node: int  # GPUs one node (one pod) of a server uses
    servers: int  # independent vLLM servers (Deployment / LeaderWorkerSet replicas)
    data_parallel_size: int
    mode: ReplicaMode
    why: str

    @property
    def multi_node(self) -> bool:
        """True when one server spans more than one node."""
        return self.nodes_per_server > 1


def gpu_vendor(gpu_name: str) -> Vendor:
    """nvidia or amd from the catalog row; a custom (--vram-gb only) GPU counts as nvidia."""
    rows = [spec for spec in load_gpu_catalog() if spec.name == gpu_name]
    return "amd" if rows and rows[0].vendor == "amd" else "nvidia"


def plan_topology(result: PlanResult) -> Topology:
    """The plan's layout as servers and nodes, with the reason replicas take their form."""
    h = result.hardware
    dp = int(result.vllm_args.get("data_parallel_size") or 1)
    model_parallel = h.tensor_parallel_size * h.pipeline_parallel_size
    per_server = model_parallel * dp
    per_node = max(1, h.gpus_per_node)
    nodes = max(1, -(-per_server // per_node))
    servers = max(1, h.gpus // per_server)
    mode: ReplicaMode
    if dp > 1:
        mode = "data_parallel"
        why = (
            f"MoE model: the extra GPUs serve as {dp} data-parallel attention ranks of one server "
            "(--data-parallel-size) with experts spread over them (--enable-expert-parallel), "
            "as vLLM advises for MoE models; each rank holds its own KV cache."
        )
    elif servers > 1:
        mode = "instances"
        why = (
            f"Dense model: the {h.gpus} GPUs hold {servers} independent servers of "
            f"{model_parallel} GPU(s) each, behind a load balancer (Deployment replicas); vLLM "
            "advises separate instances rather than --data-parallel-size for non-MoE models."
        )
    else:
        mode = "single"
        why = f"One server on {per_server} GPU(s)" + (
            f" across {nodes} nodes (TP inside a node, PP across nodes)." if nodes > 1 else "."
        )
    return Topology(
        vendor=gpu_vendor(h.gpu_name),
        gpus_per_server=per_server,
        nodes_per_server=nodes,
        gpus_per_node=min(per_server, per_node),
        servers=servers,
        data_parallel_size=dp,
        mode=mode,
        why=why,
    )
