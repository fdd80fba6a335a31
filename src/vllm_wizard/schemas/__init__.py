"""Pydantic models shared by the core, the CLI and the web layer."""
