"""Shapes of the web API's own documents (the plan itself is schemas.plan.PlanResult)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_frozen = ConfigDict(extra="forbid", frozen=True)


class ErrorDetail(BaseModel):
    """One problem with the request, and how to fix it."""

    model_config = _frozen

    field: str | None = Field(description="Request field at fault (dotted path), null if none.")
    value: Any = Field(default=None, description="The value that was given, when there is one.")
    message: str = Field(description="What failed, with the observed value.")
    fix: str = Field(description="What to change.")


class ErrorResponse(BaseModel):
    """Body of every 4xx/5xx answer of the API."""

    model_config = _frozen

    error: ErrorDetail = Field(description="The first problem found.")


class CatalogModel(BaseModel):
    """One model the form's picker offers."""

    model_config = _frozen

    id: str = Field(description="Canonical id, or a folder relative to --models-dir.")
    aliases: list[str] = Field(description="Other ids answering to the same entry.")
    source: str = Field(description="catalog (built in) or local (under --models-dir).")


class CatalogModels(BaseModel):
    """The models the server can plan for without the network."""

    model_config = _frozen

    models: list[CatalogModel] = Field(description="Catalog entries, then local folders.")
    models_dir_enabled: bool = Field(description="True when the server was given --models-dir.")
