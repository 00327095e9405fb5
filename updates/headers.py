"""Headers on every response: a strict content policy, no sniffing, no leaked links."""

from __future__ import annotations

from flask import Flask, Response, request

FRAMED_BY_SELF = "frame-ancestors 'self'"
# Scripts and styles come only from our own static files: no inline script, no style attribute.
POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
# An email's HTML carries inline styles (mail clients read no stylesheet). The pages that show
# one as it will arrive are the staff preview and the development mail viewer; a srcdoc frame
# takes its page's policy, so these pages allow inline styles, and still no script.
SHOWS_EMAIL_HTML = frozenset(
    {"console.digest_preview", "console.schedule_preview", "devmail.show_html"}
)


def content_security_policy(
    frame_ancestors: str = FRAMED_BY_SELF, *, inline_styles: bool = False
) -> str:
    """The policy for a page, with its frame-ancestors directive (this site's own by default)."""
    directives = list(POLICY)
    if inline_styles:
        directives[2] = "style-src 'self' 'unsafe-inline'"
    return "; ".join([*directives, frame_ancestors])


def _protect(response: Response) -> Response:
    # A page other sites may frame (the embeddable form) has set its policy already.
    if "Content-Security-Policy" not in response.headers:
        inline_styles = request.endpoint in SHOWS_EMAIL_HTML
        response.headers["Content-Security-Policy"] = content_security_policy(
            inline_styles=inline_styles
        )
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Links in emails carry tokens: a page reached through one must not hand its URL on.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def register(app: Flask) -> None:
    app.after_request(_protect)
