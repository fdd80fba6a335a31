"""The JSON API through FastAPI's TestClient: plan, catalogs, detection, errors, limits."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from vllm_wizard.cli.app import main
from vllm_wizard.web.app import create_app

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def test_plan_returns_the_same_json_as_the_cli(client: TestClient, capsys) -> None:
    body = {"model": LLAMA, "gpu": "A100 80GB", "max_model_len": 8192, "concurrency": 16}
    response = client.post("/api/plan", json=body)
    assert response.status_code == 200
    try:
        main(["plan", "--model", LLAMA, "--gpu", "A100 80GB", "--max-model-len", "8192",
              "--concurrency", "16", "--json"])  # fmt: skip
    except SystemExit as exc:
        assert exc.code == 0
    assert response.json() == json.loads(capsys.readouterr().out)


def test_plan_validation_error_names_field_value_and_fix(client: TestClient) -> None:
    response = client.post("/api/plan", json={"model": LLAMA, "gpu": "H100", "gpus": -1})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "gpus"
    assert error["value"] == -1
    assert "greater than or equal to 1" in error["message"]
    assert "gpus" in error["fix"]


def test_unknown_field_and_bad_json_are_422(client: TestClient) -> None:
    unknown = client.post("/api/plan", json={"model": LLAMA, "gpu": "H100", "gpu_count": 2})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "gpu_count"
    broken = client.post("/api/plan", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["error"]["field"] == "body"


def test_core_input_errors_are_422_with_the_value(client: TestClient) -> None:
    response = client.post("/api/plan", json={"model": LLAMA, "gpu": "Voodoo 5"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "gpu"
    assert error["value"] == "Voodoo 5"
    assert error["fix"]


def test_over_size_body_is_413(models_dir: Path) -> None:
    client = TestClient(create_app(models_dir=models_dir, max_body_bytes=1024))
    body = {"model": LLAMA, "gpu": "H100", "tokenizer": "x" * 2048}
    response = client.post("/api/plan", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "body"
    small = client.post("/api/plan", json={"model": LLAMA, "gpu": "H100"})
    assert small.status_code == 200


def test_streamed_body_without_length_is_counted(models_dir: Path) -> None:
    client = TestClient(create_app(models_dir=models_dir, max_body_bytes=1024))

    def chunks():
        yield b'{"model": "' + b"a" * 900
        yield b"b" * 900 + b'"}'

    response = client.post(
        "/api/plan", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_models_dir_folder_is_planned(client: TestClient) -> None:
    response = client.post("/api/plan", json={"model": "qwen7b", "gpu": "L40S"})
    assert response.status_code == 200
    assert response.json()["model"]["architecture"] == "Qwen2ForCausalLM"


def test_paths_outside_models_dir_are_refused(client: TestClient, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    for model in ("../elsewhere", str(outside), "qwen7b/../../elsewhere", "~/x", "/etc"):
        response = client.post("/api/plan", json={"model": model, "gpu": "H100"})
        assert response.status_code == 422, model
        assert response.json()["error"]["field"] == "model"
        assert "models-dir" in response.json()["error"]["message"]


def test_symlink_out_of_models_dir_is_refused(
    client: TestClient, models_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "secret"
    target.mkdir()
    (target / "config.json").write_text("{}")
    (models_dir / "link").symlink_to(target)
    response = client.post("/api/plan", json={"model": "link", "gpu": "H100"})
    assert response.status_code == 422


def test_no_models_dir_reads_no_folders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "name").mkdir(parents=True)
    (tmp_path / "org" / "name" / "config.json").write_text("{}")
    client = TestClient(create_app())
    response = client.post("/api/plan", json={"model": "org/name", "gpu": "H100"})
    assert response.status_code == 422
    assert "reads no local folders" in response.json()["error"]["message"]


def test_model_with_control_characters_is_422(client: TestClient) -> None:
    response = client.post("/api/plan", json={"model": "a\x00b", "gpu": "H100"})
    assert response.status_code == 422


def test_generate_returns_every_file_as_json(client: TestClient) -> None:
    response = client.post("/api/generate", json={"model": LLAMA, "gpu": "L4", "gpus": 8})
    assert response.status_code == 200
    files = {f["path"]: f["content"] for f in response.json()["files"]}
    assert {"serve_command.sh", "docker-compose.yaml", "k8s/deployment.yaml"} <= set(files)
    deployment = yaml.safe_load(files["k8s/deployment.yaml"])
    assert deployment["spec"]["replicas"] == 8  # one L4 per server: eight servers
    assert "vllm serve" in files["serve_command.sh"]


def test_generate_zip_holds_the_same_files_with_executable_scripts(client: TestClient) -> None:
    body = {"model": LLAMA, "gpu": "H100 SXM", "max_model_len": 4096}
    listed = client.post("/api/generate", json=body).json()["files"]
    response = client.post("/api/generate?format=zip", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "vllm-deployment.zip" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert {i.filename: archive.read(i).decode() for i in archive.infolist()} == {
            f["path"]: f["content"] for f in listed
        }
        mode = archive.getinfo("serve_command.sh").external_attr >> 16
        assert mode & 0o111, oct(mode)


def test_generate_bad_input_is_the_error_document(client: TestClient) -> None:
    response = client.post("/api/generate", json={"model": LLAMA, "gpu": "no-such-gpu"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "gpu"


def test_gpus_without_a_gpu_is_an_empty_list_with_a_note(client: TestClient) -> None:
    response = client.get("/api/gpus")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["notes"]


def test_catalog_gpus_filter(client: TestClient) -> None:
    everything = client.get("/api/catalog/gpus").json()["gpus"]
    h100 = client.get("/api/catalog/gpus", params={"q": "h100"}).json()["gpus"]
    assert 0 < len(h100) < len(everything)
    assert all("H100" in g["name"] for g in h100)
    assert all(g["memory_gib"] > 0 for g in h100)


def test_catalog_models_include_local_folders(client: TestClient) -> None:
    models = client.get("/api/catalog/models").json()
    ids = {m["id"]: m["source"] for m in models["models"]}
    assert ids[LLAMA.replace("-Instruct", "")] == "catalog" or LLAMA in str(models)
    assert ids["qwen7b"] == "local"
    assert models["models_dir_enabled"] is True
    only = client.get("/api/catalog/models", params={"q": "qwen7b"}).json()["models"]
    assert [m["id"] for m in only] == ["qwen7b"]


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    assert client.get("/api/nothing").json()["error"]["message"] == "Not Found"
    assert client.get("/api/plan").status_code == 405
    assert "error" in client.get("/api/plan").json()


def test_docs_and_openapi_are_served(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/plan", "/api/generate", "/api/size", "/api/gpus"} <= set(paths)
    assert "/api/catalog/gpus" in paths and "/api/catalog/models" in paths


def test_page_renders_a_plan_from_the_url(client: TestClient) -> None:
    response = client.get("/", params={"model": LLAMA, "gpu": "H100 SXM", "tab": "command"})
    assert response.status_code == 200
    html = response.text
    assert 'id="fits-badge"' in html
    assert 'id="vram-bar"' in html and 'id="budget-line"' in html
    assert 'id="concurrency-chart"' in html
    assert "vllm serve" in html
    assert 'id="panel-command" aria-labelledby="tab-command" >' in html
    assert "/static/htmx.min.js" in html and "https://" not in html


def test_fragment_pushes_the_share_url_and_shows_errors(client: TestClient) -> None:
    ok = client.get("/ui/results", params={"model": LLAMA, "gpu": "H100 SXM", "concurrency": ""})
    assert ok.headers["HX-Push-Url"].startswith("/?model=")
    assert "concurrency" not in ok.headers["HX-Push-Url"]
    bad = client.get("/ui/results", params={"model": LLAMA, "gpu": "H100 SXM", "gpus": "0"})
    assert bad.status_code == 200
    assert 'role="alert"' in bad.text and "gpus" in bad.text


def test_htmx_is_vendored(client: TestClient) -> None:
    response = client.get("/static/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:200]


def test_invalid_hub_id_is_422_not_a_crash(client: TestClient) -> None:
    # Found by the schemathesis fuzz: huggingface_hub rejects ':' as a repo id with a ValueError.
    response = client.post("/api/plan", json={"model": ":", "gpu": "H100"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "model"


def test_page_marks_an_overflowing_gpu_and_an_empty_kv_cache(client: TestClient) -> None:
    html = client.get(
        "/", params={"model": "meta-llama/Llama-3.1-70B-Instruct", "gpu": "L40S", "gpus": "2"}
    ).text
    assert "Does not fit" in html
    assert 'id="gpu-total-line"' in html
    assert 'id="no-kv-cache"' in html and 'id="concurrency-chart"' not in html


def test_body_that_is_not_utf8_is_422(client: TestClient) -> None:
    # Found by the fuzz: FastAPI answers 400 when it cannot decode the body.
    response = client.post(
        "/api/plan", content=b"\xff\xfe\x02", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"


SIZE_BODY = {"model": LLAMA, "concurrency": 16, "gpus": ["H100 SXM", "L40S"], "top": 3}


def test_size_returns_the_same_json_as_the_cli(client: TestClient, capsys) -> None:
    response = client.post("/api/size", json=SIZE_BODY)
    assert response.status_code == 200
    try:
        main(["size", "--model", LLAMA, "--concurrency", "16", "--gpu", "H100 SXM",
              "--gpu", "L40S", "--top", "3", "--json"])  # fmt: skip
    except SystemExit as exc:
        assert exc.code == 0
    document = response.json()
    assert document == json.loads(capsys.readouterr().out)
    assert 1 <= len(document["options"]) <= 3
    assert {o["gpu_name"] for o in document["options"]} <= {"H100 SXM", "L40S 48GB"}


def test_size_rows_of_a_local_model_post_back_to_plan(client: TestClient) -> None:
    body = {"model": "qwen7b", "concurrency": 8, "gpus": ["A100 SXM 80GB"], "top": 20}
    response = client.post("/api/size", json=body)
    assert response.status_code == 200
    document = response.json()
    assert document["model"] == "qwen7b"
    rows = [o for o in document["options"] if not o["needs_quantized_checkpoint"]]
    assert rows and all(o["plan_args"]["model"] == "qwen7b" for o in document["options"])
    planned = client.post("/api/plan", json=rows[0]["plan_args"])
    assert planned.status_code == 200
    hardware = planned.json()["hardware"]
    assert hardware["gpu_name"] == "A100 SXM 80GB"
    assert hardware["tensor_parallel_size"] == rows[0]["tensor_parallel_size"]


def test_size_bad_input_is_422_with_field_value_and_fix(client: TestClient) -> None:
    zero = client.post("/api/size", json={"model": LLAMA, "concurrency": 0})
    assert zero.status_code == 422
    assert zero.json()["error"]["field"] == "concurrency"
    assert zero.json()["error"]["value"] == 0
    two = client.post("/api/size", json={"model": LLAMA, "concurrency": 4, "target_rps": 2})
    assert two.status_code == 422
    assert "only one" in two.json()["error"]["message"]
    gpu = client.post("/api/size", json={"model": LLAMA, "gpus": ["Voodoo 5"]})
    assert gpu.status_code == 422
    assert gpu.json()["error"]["fix"]
    outside = client.post("/api/size", json={"model": "/etc", "concurrency": 1})
    assert outside.status_code == 422
    assert outside.json()["error"]["field"] == "model"


def test_size_fragment_renders_the_ranked_table_and_errors(client: TestClient) -> None:
    params = [("model", LLAMA), ("size_target", "concurrency"), ("size_value", "8"),
              ("size_gpu", "L40S"), ("size_gpu", "A100 SXM 80GB"), ("max_model_len", "")]  # fmt: skip
    page = client.get("/ui/size", params=params)
    assert page.status_code == 200
    assert 'id="size-table"' in page.text and "8 concurrent requests" in page.text
    assert page.text.count('class="open-plan"') == page.text.count("<tr data-rank=")
    assert "RTX" not in page.text  # the shortlist holds
    empty = client.get("/ui/size", params={"size_value": "8"})
    assert 'id="size-error"' in empty.text and "choose a model" in empty.text
    bad = client.get("/ui/size", params={"model": LLAMA, "size_value": "x"})
    assert "concurrency" in bad.text and 'role="alert"' in bad.text
