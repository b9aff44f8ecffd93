"""Confirmation pages, so that deleting or cancelling needs a confirmation without JavaScript too.

A destructive form posts straight to its action path. The action runs only
when the form carries ``confirmed=yes``. ``static/ui.js`` adds that field
once the browser's confirm dialog is accepted, and the confirmation page's
own form always carries it. Any other POST is redirected (303) to a GET of
the same path, which renders the confirmation page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from quart import g, redirect, request

from web.ui.session import render, safe_next

CONFIRMED_FIELD = "confirmed"
EXCERPT_LENGTH = 200


async def is_confirmed() -> bool:
    """Return True when the POSTed form carries ``confirmed=yes``."""
    form = await request.form
    return form.get(CONFIRMED_FIELD) == "yes"


def excerpt(html: str) -> str:
    """Return the plain text of ``html``, cut to ``EXCERPT_LENGTH`` characters."""
    text = Markup(html).striptags()
    if len(text) > EXCERPT_LENGTH:
        text = text[: EXCERPT_LENGTH - 1] + "…"
    return text


def ask_first() -> Any:
    """Redirect an unconfirmed POST to the confirmation page at the same path."""
    origin = g.get("ui_next") or ""
    query = f"?{urlencode({'next': origin})}" if origin else ""
    return redirect(f"{request.path}{query}", 303)


async def confirmation_page(
    *,
    question: str,
    subject: str,
    detail: str,
    button: str,
    cancel_path: str,
    done_path: str | None = None,
) -> Any:
    """Render the confirmation page: ``question``, what it applies to, and a POST form.

    ``cancel_path`` is where "Keep it" leads. ``done_path`` is where the action
    redirects afterwards, and defaults to the page the request came from.
    """
    origin = safe_next(request.args.get("next", ""), cancel_path)
    return await render(
        "confirm.html",
        question=question,
        subject=subject,
        detail=detail,
        button=button,
        action=request.path,
        cancel_path=origin,
        done_path=done_path or origin,
    )
