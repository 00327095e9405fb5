"""Asking before an action that cannot be taken back: a page that says what will happen, whose
button repeats the request with `confirmed=yes`."""

from __future__ import annotations

from flask import render_template, request

from updates.forms import ButtonForm


def confirmed() -> bool:
    """Whether this POST is the answer to the confirmation page."""
    return request.form.get("confirmed") == "yes"


def ask(
    question: str,
    button: str,
    back: str,
    details: tuple[str, ...] = (),
    fields: dict[str, str] | None = None,
    danger: bool = False,
) -> str:
    """The confirmation page: the question, what will follow, and one button that does it."""
    return render_template(
        "console/confirm.html",
        question=question,
        details=details,
        label=button,
        action=request.path,
        back=back,
        fields=fields or {},
        danger=danger,
        form=ButtonForm(),
    )
