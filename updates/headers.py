"""Headers on every response: framing only by our own pages, no sniffing, no leaked links."""

from __future__ import annotations

from flask import Flask, Response, request

from .embeds import frame_ancestors

# Pages other sites may frame, on the origins an admin lists.
FRAMEABLE = {"public.embed"}


def _protect(response: Response) -> Response:
    if request.endpoint in FRAMEABLE:
        response.headers["Content-Security-Policy"] = frame_ancestors()
    else:
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Links in emails carry tokens: a page reached through one must not hand its URL on.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def register(app: Flask) -> None:
    app.after_request(_protect)
