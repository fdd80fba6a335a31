"""vllm-wizard: will this model fit, how to launch vLLM for it, and how fast it will be."""

__version__ = "0.1.0"
