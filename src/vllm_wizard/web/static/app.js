// The page's small behaviours: tabs, copy buttons, GPU detection, files, opening a size row.
// Everything else (form -> results) is HTMX.
(function () {
  "use strict";

  const form = () => document.getElementById("plan-form");

  function formRequest() {
    // The form as a plan request: non-empty fields, numbers as numbers.
    const body = {};
    for (const [key, value] of new FormData(form())) {
      if (key === "tab" || value === "") continue;
      const el = form().elements[key];
      body[key] = el && el.type === "number" ? Number(value) : value;
    }
    return body;
  }

  async function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  async function errorText(response) {
    try {
      const doc = await response.json();
      return doc.error.message + ". " + doc.error.fix;
    } catch (e) {
      return "HTTP " + response.status;
    }
  }

  function selectTab(name) {
    document.querySelectorAll('[role="tab"]').forEach((tab) => {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(tab.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    });
    const state = document.getElementById("tab-state");
    if (state) state.value = name;
    const url = new URL(window.location.href);
    url.searchParams.set("tab", name);
    history.replaceState(history.state, "", url);
    if (name === "files") loadFiles();
  }

  async function loadFiles() {
    const status = document.getElementById("files-status");
    const list = document.getElementById("files-list");
    if (!status || !list) return;
    const response = await postJson("/api/generate", formRequest());
    if (!response.ok) {
      status.textContent = await errorText(response);
      return;
    }
    const doc = await response.json();
    list.replaceChildren();
    for (const file of doc.files || []) {
      const heading = document.createElement("h4");
      heading.textContent = file.path;
      const pre = document.createElement("pre");
      pre.textContent = file.content;
      list.append(heading, pre);
    }
    status.textContent = "";
  }

  async function downloadZip() {
    const status = document.getElementById("files-status");
    const response = await postJson("/api/generate?format=zip", formRequest());
    if (!response.ok) {
      status.textContent = await errorText(response);
      return;
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "vllm-deployment.zip";
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = "Downloaded vllm-deployment.zip";
  }

  async function copyFrom(button) {
    const source = document.querySelector(button.dataset.copy);
    const status = button.nextElementSibling;
    const text = source ? source.textContent : "";
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied";
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      status.textContent = "Selected: press Ctrl+C to copy";
    }
  }

  async function detectGpus() {
    const status = document.getElementById("detect-status");
    status.textContent = "Detecting…";
    const response = await fetch("/api/gpus");
    const doc = await response.json();
    const first = (doc.gpus || [])[0];
    if (!first || !first.catalog_name) {
      status.textContent = first
        ? "Detected " + first.name + ", which is not in the catalog."
        : "No GPU detected on the server. " + (doc.notes || []).join(" ");
      return;
    }
    form().elements.gpu.value = first.catalog_name;
    form().elements.gpus.value = doc.count;
    status.textContent = "Detected " + doc.count + "× " + first.catalog_name + ".";
    form().dispatchEvent(new Event("change", { bubbles: true }));
  }

  // plan_args keys the main form shows; the rest of a row's plan_args are size's defaults.
  const PLAN_KEYS = ["model", "gpu", "gpus", "tensor_parallel_size", "max_model_len",
    "concurrency", "kv_cache_dtype", "quantization"];
  const FORM_DEFAULTS = { kv_cache_dtype: "auto", quantization: "" };

  function setField(name, value) {
    // Set a main-form input; a select gains the value as an option when it lacks it.
    const el = form().elements[name];
    if (!el) return;
    const text = value === undefined || value === null ? "" : String(value);
    if (el.tagName === "SELECT" && !Array.from(el.options).some((o) => o.value === text)) {
      el.add(new Option(text, text));
    }
    el.value = text;
  }

  function openAsPlan(button) {
    // Fill the main form from a ranked row's plan_args and plan it (HTMX pushes the URL).
    const args = JSON.parse(button.dataset.plan);
    for (const key of PLAN_KEYS) setField(key, args[key] ?? FORM_DEFAULTS[key]);
    const split = args.pipeline_parallel_size > 1;
    setField("pipeline_parallel_size", split ? args.pipeline_parallel_size : "");
    setField("gpus_per_node", split ? args.gpus_per_node : "");
    form().requestSubmit();
    document.getElementById("results").scrollIntoView({ block: "start" });
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.getAttribute("role") === "tab") selectTab(target.dataset.tab);
    else if (target.classList.contains("copy")) copyFrom(target);
    else if (target.id === "download-zip") downloadZip();
    else if (target.id === "detect") detectGpus();
    else if (target.classList.contains("open-plan")) openAsPlan(target);
  });

  function dropOpenedSplit(event) {
    // A row's pipeline split no longer holds once the user edits the hardware by hand.
    // Capture phase: runs before HTMX reads the form for this same event.
    if (!["gpu", "gpus", "tensor_parallel_size"].includes(event.target.name)) return;
    if (event.target.form !== form()) return;
    setField("pipeline_parallel_size", "");
    setField("gpus_per_node", "");
  }
  document.addEventListener("input", dropOpenedSplit, true);
  document.addEventListener("change", dropOpenedSplit, true);

  document.addEventListener("keydown", (event) => {
    // Arrow keys move between tabs, as the ARIA tabs pattern expects.
    const tab = event.target.closest && event.target.closest('[role="tab"]');
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
    selectTab(next.dataset.tab);
    next.focus();
  });
})();
