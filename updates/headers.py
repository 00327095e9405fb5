"""Headers on every response: framing only by our own pages, no sniffing, no leaked links."""

from __future__ import annotations

from flask import Flask, Response


def _protect(response: Response) -> Response:
    # A page other sites may frame (the embeddable form) sets its own frame-ancestors.
    if "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Links in emails carry tokens: a page reached through one must not hand its URL on.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def register(app: Flask) -> None:
    app.after_request(_protect)
