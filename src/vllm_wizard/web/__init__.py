"""The web page and JSON API over the same core (`vllm-wizard web`, extra `web`)."""
