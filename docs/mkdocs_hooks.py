"""MkDocs hooks: the pages that live outside docs/ join the site (mkdocs.yml).

README.md becomes the home page (index.md); the other Markdown pages of the repository's
top level (ARCHITECTURE.md, CONTRIBUTING.md, ...) and the benchmark notes that pages link
to keep their names. Links are rewritten to where the pages land on the site, so that
``mkdocs build --strict`` checks every one of them: ``docs/x.md`` in a top-level page is
``x.md`` on the site, ``../README.md`` in a docs/ page is ``index.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
#: repository path -> site path of the pages outside docs/
OUTSIDE = {
    "README.md": "index.md",
    "ARCHITECTURE.md": "ARCHITECTURE.md",
    "CONTRIBUTING.md": "CONTRIBUTING.md",
    "CHANGELOG.md": "CHANGELOG.md",
    "SECURITY.md": "SECURITY.md",
    "BENCHMARKS.md": "BENCHMARKS.md",
    "benchmarks/README.md": "benchmarks/README.md",
    "benchmarks/results/dask_scale.md": "benchmarks/results/dask_scale.md",
}
_LINK = re.compile(r"(\]\()([^)#\s]+)")


def on_files(files, config):
    """Add the pages of :data:`OUTSIDE` that exist, as generated files."""
    for source, target in OUTSIDE.items():
        path = ROOT / source
        if path.is_file():
            files.append(File.generated(config, target, content=path.read_text(encoding="utf-8")))
    return files


def _site_link(target: str, page_source: str) -> str:
    """Where the link ``target`` of the page from ``page_source`` points on the site."""
    if "://" in target or target.startswith("mailto:"):
        return target
    repository_path = (Path(page_source).parent / target).as_posix()
    parts = []
    for part in repository_path.split("/"):
        if part == ".." and parts:
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    repository_path = "/".join(parts)
    if repository_path in OUTSIDE:
        site_path = OUTSIDE[repository_path]
    elif repository_path.startswith("docs/"):
        site_path = repository_path.removeprefix("docs/")
    else:
        return target  # not a page of the site: left for the strict build to report
    page_site = OUTSIDE.get(page_source, page_source.removeprefix("docs/"))
    depth = page_site.count("/")
    return "../" * depth + site_path


def on_page_markdown(markdown, page, config, files):
    """Rewrite repository-relative links into site-relative ones."""
    source = page.file.src_uri
    page_source = next((k for k, v in OUTSIDE.items() if v == source), "docs/" + source)
    return _LINK.sub(lambda m: m.group(1) + _site_link(m.group(2), page_source), markdown)
