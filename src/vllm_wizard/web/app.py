"""The FastAPI app: JSON API under /api, the page at /, its HTMX fragments under /ui.

Routes stay thin: they validate, confine the model to --models-dir, call the core and
render. Memory figures in responses are GiB (2^30 bytes), as in `plan --json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from vllm_wizard import __version__
from vllm_wizard.core.catalog import search_catalog
from vllm_wizard.core.gpu_catalog import gpu_entry, list_gpus, load_gpu_catalog
from vllm_wizard.core.gpu_detect import detect_gpus, detected_entries
from vllm_wizard.core.planner import plan
from vllm_wizard.core.sizing import size
from vllm_wizard.errors import WizardError, error_document
from vllm_wizard.schemas.api import CatalogModel, CatalogModels, ErrorResponse
from vllm_wizard.schemas.gpu import GpuInventory
from vllm_wizard.schemas.plan import PlanResult
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.schemas.size import SizeRequest, SizeResult
from vllm_wizard.web import charts, form
from vllm_wizard.web.errors import (
    install_error_handlers,
    validation_error_response,
    wizard_error_response,
)
from vllm_wizard.web.limits import MAX_BODY_BYTES, BodySizeLimitMiddleware
from vllm_wizard.web.models_dir import list_local_models, resolve_model_reference

HERE = Path(__file__).parent
Detector = Callable[[], GpuInventory]

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body over the size limit."},
    422: {"model": ErrorResponse, "description": "A field is invalid; `fix` says what to change."},
    503: {"model": ErrorResponse, "description": "The server's environment failed."},
}


def create_app(
    models_dir: Path | None = None,
    detector: Detector | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the app; `models_dir` is the only folder tree it reads models from."""
    app = FastAPI(
        title="vllm-wizard",
        version=__version__,
        summary="Will this model fit on this GPU, how to launch vLLM for it, how fast it is.",
        description="Memory figures are GiB (2^30 bytes); speeds are approximate ranges.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.models_dir = models_dir.resolve() if models_dir is not None else None
    app.state.detector = detector or detect_gpus
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _add_api_routes(app)
    _add_docs_route(app)
    _add_page_routes(app, Jinja2Templates(directory=HERE / "templates"))
    return app


def run_plan(request: PlanRequest, models_dir: Path | None) -> PlanResult:
    """Plan with the model confined to `models_dir` (raises WizardError for bad input)."""
    model = resolve_model_reference(request.model, models_dir)
    return plan(request.model_copy(update={"model": model}))


ZIP_NAME = "vllm-deployment.zip"


def generate_files(request: PlanRequest, output: str, models_dir: Path | None) -> Response:
    """POST /api/generate: `{"files": [{"path", "content"}]}`, or a zip with ?format=zip."""
    from vllm_wizard.core.artifacts import EMIT_CHOICES, EXECUTABLE, render_files

    try:
        result = run_plan(request, models_dir)
    except WizardError as exc:
        return wizard_error_response(exc, request.model_dump())
    files = render_files(result, request, list(EMIT_CHOICES))
    if output == "zip":
        return Response(
            zip_bytes(files, EXECUTABLE),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{ZIP_NAME}"'},
        )
    return JSONResponse({"files": [{"path": p, "content": t} for p, t in files.items()]})


def zip_bytes(files: dict[str, str], executable: set[str]) -> bytes:
    """A zip of the files (UTF-8), shell scripts marked executable (mode 755)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if path in executable else 0o100644) << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def run_size(request: SizeRequest, models_dir: Path | None) -> SizeResult:
    """Search with the model confined to `models_dir` (raises WizardError for bad input).

    The answer names the model as the request gave it, not the server's folder, so a
    row's plan_args post back to /api/plan (or the page's form) unchanged.
    """
    model = resolve_model_reference(request.model, models_dir)
    result = size(request.model_copy(update={"model": model}))
    return _named_as_given(result, request.model)


def _named_as_given(result: SizeResult, model: str) -> SizeResult:
    """The result with `model` as its model and in every option's plan_args."""
    options = [
        option.model_copy(update={"plan_args": {**option.plan_args, "model": model}})
        for option in result.options
    ]
    return result.model_copy(update={"model": model, "options": options})


def _add_api_routes(app: FastAPI) -> None:
    @app.post("/api/plan", response_model=PlanResult, responses=ERRORS, tags=["api"])
    def api_plan(request: PlanRequest) -> Any:
        """The same JSON as `vllm-wizard plan --json` for a request of `plan`'s options."""
        try:
            return run_plan(request, app.state.models_dir)
        except WizardError as exc:
            return wizard_error_response(exc, request.model_dump())

    @app.post(
        "/api/generate",
        responses={
            200: {
                "description": "The files as JSON, or a zip with ?format=zip.",
                "content": {"application/zip": {}},
            },
            **ERRORS,
        },
        tags=["api"],
    )
    def api_generate(
        request: PlanRequest, format: Annotated[Literal["json", "zip"], Query()] = "json"
    ) -> Response:
        """Deployment files for a plan request, as JSON or (`?format=zip`) a zip."""
        return generate_files(request, format, app.state.models_dir)

    @app.post("/api/size", response_model=SizeResult, responses=ERRORS, tags=["api"])
    def api_size(request: SizeRequest) -> Any:
        """The same JSON as `vllm-wizard size --json`: GPU models, counts and layouts, ranked."""
        try:
            return run_size(request, app.state.models_dir)
        except WizardError as exc:
            return wizard_error_response(exc, request.model_dump())

    @app.get("/api/gpus", tags=["api"])
    def api_gpus() -> dict[str, Any]:
        """GPUs detected on the server (an empty list, with a note, when there are none)."""
        return _detected_document(app.state.detector)

    @app.get("/api/catalog/gpus", tags=["api"])
    def api_catalog_gpus(
        q: Annotated[str | None, Query(max_length=100, description="Name filter.")] = None,
    ) -> dict[str, Any]:
        """Catalog GPUs (memory in GiB and bytes) whose name or alias contains `q`."""
        return {"gpus": [gpu_entry(spec) for spec in list_gpus(q)]}

    @app.get("/api/catalog/models", response_model=CatalogModels, tags=["api"])
    def api_catalog_models(
        q: Annotated[str | None, Query(max_length=100, description="Id filter.")] = None,
    ) -> CatalogModels:
        """Built-in catalog models, then folders under --models-dir, filtered by `q`."""
        return _model_choices(app.state.models_dir, q)


def _add_docs_route(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the vendored files, so the docs work offline too."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="vllm-wizard API",
            swagger_js_url="/static/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui.css",
            swagger_favicon_url="data:,",
        )


def _detected_document(detector: Detector) -> dict[str, Any]:
    try:
        inventory = detector()
    except WizardError as exc:
        return {"gpus": [], "count": 0, "source": None, "notes": [exc.message]}
    entries = detected_entries(inventory)
    return {
        "gpus": entries,
        "count": len(entries),
        "driver_version": inventory.driver_version,
        "cuda_version": inventory.cuda_version,
        "interconnect": inventory.interconnect,
        "source": inventory.source,
        "notes": inventory.notes,
    }


def _model_choices(models_dir: Path | None, query: str | None) -> CatalogModels:
    needle = (query or "").strip().lower()
    models = [
        CatalogModel(id=e.model_id, aliases=list(e.aliases), source="catalog")
        for e in search_catalog(query)
    ]
    models += [
        CatalogModel(id=name, aliases=[], source="local")
        for name in list_local_models(models_dir)
        if not needle or needle in name.lower()
    ]
    return CatalogModels(models=models, models_dir_enabled=models_dir is not None)


def _add_page_routes(app: FastAPI, templates: Jinja2Templates) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        context = {
            **_results_context(params, app.state.models_dir),
            "values": params,
            "form_fields": form.FORM_FIELDS,
            "help": form.field_help,
            "defaults": _form_defaults(),
            "catalog_models": _model_choices(app.state.models_dir, None).models,
            "catalog_gpus": [spec.name for spec in load_gpu_catalog()],
            "size_targets": form.SIZE_TARGETS,
            "share_url": form.share_url(params),
            "version": __version__,
        }
        return templates.TemplateResponse(request, "index.html", context)

    @app.get("/ui/results", response_class=HTMLResponse, include_in_schema=False)
    def results_fragment(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        context = {**_results_context(params, app.state.models_dir), "values": params}
        response = templates.TemplateResponse(request, "_results.html", context)
        response.headers["HX-Push-Url"] = form.share_url(params)
        return response

    @app.get("/ui/size", response_class=HTMLResponse, include_in_schema=False)
    def size_fragment(request: Request) -> HTMLResponse:
        params = request.query_params
        fields = form.size_fields(params, params.getlist("size_gpu"))
        context = _size_context(fields, app.state.models_dir)
        return templates.TemplateResponse(request, "_size.html", context)


def _form_defaults() -> dict[str, Any]:
    return {
        name: field.default
        for name, field in PlanRequest.model_fields.items()
        if field.default is not None and not callable(field.default)
    }


def _results_context(params: dict[str, str], models_dir: Path | None) -> dict[str, Any]:
    """Plan for the form's values: the result and chart geometry, or the error to show."""
    fields = form.plan_fields(params)
    if "model" not in fields:
        return {"result": None, "error": None}
    try:
        request = PlanRequest(**fields)
        result = run_plan(request, models_dir)
    except ValidationError as exc:
        return {"result": None, "error": _error_detail(validation_error_response(exc.errors()))}
    except WizardError as exc:
        value = fields.get(exc.field or "")
        return {"result": None, "error": error_document(exc.message, field=exc.field, value=value)}
    data = result.model_dump(mode="json")
    return {
        "result": result,
        "error": None,
        "bar": charts.vram_bar(result),
        "chart": charts.concurrency_chart(result, request.concurrency),
        "plan_json": json.dumps(data, indent=2),
    }


def _size_context(fields: dict[str, Any], models_dir: Path | None) -> dict[str, Any]:
    """The search for the Find-hardware form: its result, or the error to show."""
    if "model" not in fields:
        message = "model is empty; choose a model in the form above, then search."
        return {"result": None, "error": error_document(message, field="model")}
    try:
        result = run_size(SizeRequest(**fields), models_dir)
    except ValidationError as exc:
        return {"result": None, "error": _error_detail(validation_error_response(exc.errors()))}
    except WizardError as exc:
        value = fields.get(exc.field or "")
        return {"result": None, "error": error_document(exc.message, field=exc.field, value=value)}
    return {"result": result, "error": None, "targets": form.SIZE_TARGET_LABELS}


def _error_detail(response: JSONResponse) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(bytes(response.body))
    return document
