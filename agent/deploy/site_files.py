"""A built static site as files to publish: keys, content types, cache rules, its title.

Every static host (S3 + CloudFront, Azure Blob + Front Door) publishes the same files with
the same headers, so a site behaves the same wherever it is deployed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from agent.errors import DeployError
from tmux_builder.content_types import content_type_for

INDEX_DOCUMENT = "index.html"
NOT_FOUND_DOCUMENT = "404.html"

CACHE_HTML = "no-cache"
CACHE_HASHED = "public, max-age=31536000, immutable"
CACHE_DEFAULT = "public, max-age=300"

# Bundlers name outputs `name-<hash>.ext` / `name.<hash>.ext`; a hash mixes case or digits,
# which keeps plain words such as `hero-illustration.png` out of year-long caching.
_HASHED_STEM = re.compile(r"[-.](?=[A-Za-z0-9_-]*[A-Z0-9])[A-Za-z0-9_-]{8,}$")


@dataclass(frozen=True)
class SiteFile:
    key: str
    path: Path
    content_type: str
    cache_control: str


def site_files(site_dir: Path, progress: Callable[[str], None] | None = None) -> list[SiteFile]:
    """Every regular file under ``site_dir``, HTML last so pages never precede their assets.

    Symlinks that lead outside the site are skipped: the folder is written by the AI, and a
    link to a host file must not be published.
    """
    if not site_dir.is_dir():
        raise DeployError(f"site folder {site_dir} does not exist")
    if not (site_dir / INDEX_DOCUMENT).is_file():
        raise DeployError(f"site folder {site_dir} has no {INDEX_DOCUMENT}")
    root = site_dir.resolve()
    files: list[SiteFile] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            real = path.resolve()
            if not real.is_file() or not real.is_relative_to(root):
                if progress:
                    progress(f"Skipping {path.relative_to(root)}: not a file inside the site")
                continue
            key = path.relative_to(root).as_posix()
            files.append(SiteFile(key, path, content_type_for(key), cache_control_for(key)))
    if not any(f.key == INDEX_DOCUMENT for f in files):
        raise DeployError(f"{INDEX_DOCUMENT} of {site_dir} is not a file inside the site")
    files.sort(
        key=lambda f: (f.content_type.startswith("text/html"), f.key == INDEX_DOCUMENT, f.key)
    )
    return files


def cache_control_for(key: str) -> str:
    """HTML is revalidated, fingerprinted bundles are immutable, the rest is briefly cached."""
    path = Path(key)
    if path.suffix.lower() in (".html", ".htm"):
        return CACHE_HTML
    if key.startswith("assets/") and _HASHED_STEM.search(path.stem):
        return CACHE_HASHED
    return CACHE_DEFAULT


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._in_title = False
        self.title: str | None = None
        self._parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title is None:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = " ".join("".join(self._parts).split())

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._parts.append(data)


def page_title(index_html: Path) -> str:
    """Text of the first ``<title>``; the pipeline shows it and health_check compares it."""
    parser = _TitleParser()
    parser.feed(index_html.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.title or ""
