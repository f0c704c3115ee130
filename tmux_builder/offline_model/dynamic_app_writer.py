"""A :class:`SiteDesign` -> a small dynamic site: a Node.js server, its page and one JSON API.

The same page as a static site (:mod:`site_writer`), except that its first section is filled
in the browser from the site's own API (``GET /api/<section id>``), whose items the server
reads from ``code/data/<section id>.json`` at each request. The app keeps the dynamic-site
contract of :mod:`tmux_builder.dynamic_site`: ``npm start`` starts it, it listens on ``PORT``
(8080 when unset), ``GET /healthz`` answers at once, ``GET /`` serves ``index.html`` and other
static files come only from ``assets/``. Node's built-in modules only: nothing to install.
"""

from __future__ import annotations

import json

from tmux_builder.dynamic_site import ASSETS_DIR, DEFAULT_PORT, HEALTH_PATH, PORT_ENV
from tmux_builder.naming import slugify
from tmux_builder.offline_model.plan_writer import md
from tmux_builder.offline_model.site_design import SiteDesign
from tmux_builder.offline_model.site_writer import (
    SITE_DIR,
    render_index,
    render_script,
    render_styles,
)

SERVER_PATH = f"{SITE_DIR}/server.js"
PACKAGE_PATH = f"{SITE_DIR}/package.json"
DYNAMIC_INDEX_PATH = f"{SITE_DIR}/index.html"
DYNAMIC_STYLES_PATH = f"{SITE_DIR}/{ASSETS_DIR}/styles.css"
DYNAMIC_SCRIPT_PATH = f"{SITE_DIR}/{ASSETS_DIR}/script.js"


def api_section_id(design: SiteDesign) -> str:
    """The section the API serves: the first, the heart of every kind of site (menu, work...)."""
    return design.sections[0].id


def api_route(design: SiteDesign) -> str:
    return f"/api/{api_section_id(design)}"


def data_path(design: SiteDesign) -> str:
    return f"{SITE_DIR}/data/{api_section_id(design)}.json"


def write_dynamic_site(design: SiteDesign) -> dict[str, str]:
    """Relative path -> file content for the whole app (data before the server that reads it)."""
    return {
        data_path(design): render_data(design),
        PACKAGE_PATH: render_package(design),
        SERVER_PATH: render_server(design),
        DYNAMIC_STYLES_PATH: render_styles(design) + _API_CSS,
        DYNAMIC_SCRIPT_PATH: render_script() + _API_SCRIPT,
        DYNAMIC_INDEX_PATH: render_index(
            design, asset_prefix=f"{ASSETS_DIR}/", api_section=api_section_id(design)
        ),
    }


def dynamic_files_label() -> str:
    return f"`{SERVER_PATH}`, `{PACKAGE_PATH}`, `{DYNAMIC_INDEX_PATH}`, `{SITE_DIR}/{ASSETS_DIR}/`"


def dynamic_code_answer(design: SiteDesign, source: str) -> str:
    """The chat answer of a generate_code turn that wrote a dynamic site."""
    section = design.sections[0]
    return "\n".join(
        [
            f"Wrote the app for **{md(design.name)}** in `code/`, following {source}.",
            "",
            f"- `{SERVER_PATH}`: a Node.js server (built-in modules only) on `{PORT_ENV}` "
            f"({DEFAULT_PORT} when unset), `GET {HEALTH_PATH}`, `GET {api_route(design)}` and "
            "the page",
            f"- `{data_path(design)}`: the {md(section.label.lower())} the API serves",
            f"- `{DYNAMIC_INDEX_PATH}`: the page; its {md(section.label)} section is filled from "
            "the API",
            f"- `{DYNAMIC_STYLES_PATH}`, `{DYNAMIC_SCRIPT_PATH}`: {design.palette.mode} theme, "
            "responsive down to 375 px; phone menu, contact form and the API-driven section",
            f"- `{PACKAGE_PATH}`: `npm start` runs the server",
        ]
    )


def render_data(design: SiteDesign) -> str:
    section = design.sections[0]
    items = [{"title": i.title, "text": i.text, "meta": i.meta} for i in section.items]
    document = {"section": section.label, "items": items}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_package(design: SiteDesign) -> str:
    package = {
        "name": slugify(design.name, max_len=40) or "site",
        "version": "1.0.0",
        "private": True,
        "description": design.tagline,
        "main": "server.js",
        "scripts": {"start": "node server.js"},
        "engines": {"node": ">=20"},
    }
    return json.dumps(package, indent=2, ensure_ascii=False) + "\n"


def render_server(design: SiteDesign) -> str:
    section = api_section_id(design)
    return (
        _SERVER.replace("__SITE_NAME__", json.dumps(design.name, ensure_ascii=False))
        .replace("__SECTION__", json.dumps(section))
        .replace("__PORT_ENV__", PORT_ENV)
        .replace("__DEFAULT_PORT__", str(DEFAULT_PORT))
        .replace("__HEALTH_PATH__", json.dumps(HEALTH_PATH))
        .replace("__ASSETS__", json.dumps(ASSETS_DIR))
    )


_SERVER = """\
// The site's server: the page, its assets and one JSON API. Node.js built-in modules only.
"use strict";

const http = require("node:http");
const fs = require("node:fs/promises");
const path = require("node:path");

const SITE_NAME = __SITE_NAME__;
const SECTION = __SECTION__;
const PORT = Number.parseInt(process.env.__PORT_ENV__ || "__DEFAULT_PORT__", 10);
const ROOT = __dirname;
const ASSETS = path.join(ROOT, __ASSETS__);
const DATA_FILE = path.join(ROOT, "data", `${SECTION}.json`);
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};
const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "X-Frame-Options": "DENY",
};

function send(response, status, type, body, extra = {}) {
  response.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    ...SECURITY_HEADERS,
    ...extra,
  });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

function sendJson(response, status, document) {
  const headers = { "Cache-Control": "no-store" };
  send(response, status, "application/json; charset=utf-8", JSON.stringify(document), headers);
}

async function sendFile(response, file, cacheControl) {
  try {
    const body = await fs.readFile(file);
    const type = TYPES[path.extname(file).toLowerCase()] || "application/octet-stream";
    send(response, 200, type, body, { "Cache-Control": cacheControl });
  } catch (error) {
    if (error.code === "ENOENT" || error.code === "EISDIR") {
      notFound(response);
      return;
    }
    throw error;
  }
}

function notFound(response) {
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<title>Not found</title></head><body><h1>Not found</h1>` +
    `<p><a href="/">Back to ${SITE_NAME.replace(/[&<>"]/g, "")}</a></p></body></html>`;
  send(response, 404, "text/html; charset=utf-8", page);
}

async function readItems() {
  const document = JSON.parse(await fs.readFile(DATA_FILE, "utf8"));
  return Array.isArray(document.items) ? document.items : [];
}

async function route(request, response) {
  const url = new URL(request.url, "http://site.invalid");
  const pathname = decodeURIComponent(url.pathname);
  if (request.method !== "GET" && request.method !== "HEAD") {
    sendJson(response, 405, { error: "method not allowed" });
    return;
  }
  if (pathname === __HEALTH_PATH__) {
    sendJson(response, 200, { status: "ok" });
    return;
  }
  if (pathname === `/api/${SECTION}`) {
    const items = await readItems();
    sendJson(response, 200, { section: SECTION, items, updated: new Date().toISOString() });
    return;
  }
  if (pathname.startsWith("/api/")) {
    sendJson(response, 404, { error: "no such API route" });
    return;
  }
  if (pathname === "/" || pathname === "/index.html") {
    await sendFile(response, path.join(ROOT, "index.html"), "no-cache");
    return;
  }
  const file = path.resolve(ROOT, "." + pathname);
  if (file.startsWith(ASSETS + path.sep)) {
    await sendFile(response, file, "public, max-age=300");
    return;
  }
  notFound(response);
}

const server = http.createServer((request, response) => {
  route(request, response).catch((error) => {
    console.error(`${request.method} ${request.url} failed:`, error);
    if (!response.headersSent) {
      sendJson(response, 500, { error: "internal error" });
    } else {
      response.destroy();
    }
  });
});

server.listen(PORT, "0.0.0.0", () => {
  console.log(`${SITE_NAME} listening on port ${PORT}`);
});

function shutdown(signal) {
  console.log(`${signal}: closing the server`);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}

process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
"""


_API_CSS = """
.api-status {
  color: var(--muted);
  margin: 0;
}

.cards[aria-busy="true"] {
  min-height: 6rem;
}
"""


_API_SCRIPT = """
// Sections filled from the site's own API: <div data-api="/api/<name>"> gets one card per item.
(function () {
  "use strict";

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function render(container, items) {
    container.textContent = "";
    items.forEach(function (item) {
      var card = element("article", "card");
      card.appendChild(element("h3", "", item.title));
      if (item.text) {
        card.appendChild(element("p", "", item.text));
      }
      if (item.meta) {
        card.appendChild(element("p", "meta", item.meta));
      }
      container.appendChild(card);
    });
    container.setAttribute("aria-busy", "false");
  }

  function failed(container) {
    container.textContent = "";
    container.appendChild(
      element("p", "api-status", "This list could not be loaded. Please refresh the page.")
    );
    container.setAttribute("aria-busy", "false");
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-api]"), function (container) {
    fetch(container.getAttribute("data-api"), { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (document) {
        render(container, Array.isArray(document.items) ? document.items : []);
      })
      .catch(function () {
        failed(container);
      });
  });
})();
"""
