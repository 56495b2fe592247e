"""A quote version as PDF in the dealership's letterhead (WeasyPrint), with no network access.

The fonts (DejaVu, static/quotes/fonts/ with their licence) and the stylesheet are bundled; the only
URLs the renderer may open are files under ``static/quotes/`` and the dealership's logo
(``QUOTE_LOGO_DIR/<dealer number>.png``, if there is one). Every other URL, http(s), file or data, is
refused, so a value typed into a quote can never make the server fetch anything.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation

from crm.quotes.models import QuoteVersion

logger = logging.getLogger(__name__)

STYLESHEET = "quotes/quote.css"
LOGO_SUFFIXES = (".png", ".jpg", ".svg")


def _static_root() -> Path:
    found = finders.find(STYLESHEET)
    if not found:
        raise FileNotFoundError(STYLESHEET)
    return Path(str(found)).resolve().parent


def logo_dir() -> Path:
    configured = getattr(settings, "QUOTE_LOGO_DIR", "")
    return Path(configured).resolve() if configured else _static_root() / "logos"


def logo_path(dealer_number: str) -> Path | None:
    """The dealership's logo file, if one is installed (``<QUOTE_LOGO_DIR>/<number>.png|.jpg|.svg``)."""
    for suffix in LOGO_SUFFIXES:
        candidate = logo_dir() / f"{dealer_number}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def local_files_only(*roots: Path) -> Any:
    """A WeasyPrint URL fetcher that opens ``file:`` URLs inside ``roots`` and refuses everything else.

    Its ``refused`` list names what was refused. WeasyPrint (and so Pango) is imported only here and in
    :func:`render_pdf`: a machine without Pango serves every other page, and only the PDF fails.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    allowed = [root.resolve() for root in roots]

    class LocalFilesOnly(URLFetcher):
        def __init__(self) -> None:
            super().__init__(timeout=1, allowed_protocols=("file",), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            path = Path(url2pathname(urlsplit(url).path)) if url.startswith("file:") else None
            resolved = path.resolve() if path is not None else None
            if resolved is None or not any(resolved.is_relative_to(root) for root in allowed) or not resolved.is_file():
                self.refused.append(url[:200])
                logger.warning("quote_pdf_url_refused", extra={"url": url[:200]})
                raise ValueError("quote PDFs open no URLs but their own files")
            mimetype = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, resolved.read_bytes(), {"Content-Type": mimetype})

    return LocalFilesOnly()


def render_html(version: QuoteVersion) -> str:
    quote = version.quote
    dealer = quote.dealer
    language = quote.lead.prospect.preferred_language or "de"
    logo = logo_path(dealer.number)
    with translation.override(language):
        return render_to_string(
            "quotes/pdf.html",
            {
                "version": version,
                "quote": quote,
                "dealer": dealer,
                "breakdown": version.breakdown(),
                "logo_url": logo.as_uri() if logo else "",
                "language": language,
            },
        )


def render_pdf(version: QuoteVersion, *, fetcher: Any = None) -> bytes:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    static_root = _static_root()
    fetcher = fetcher or local_files_only(static_root, logo_dir())
    fonts = FontConfiguration()
    stylesheet = CSS(filename=str(static_root / "quote.css"), url_fetcher=fetcher, font_config=fonts)
    document = HTML(string=render_html(version), base_url=static_root.as_uri() + "/", url_fetcher=fetcher)
    return bytes(document.write_pdf(stylesheets=[stylesheet], font_config=fonts))
