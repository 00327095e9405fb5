"""Development only: read the emails the dev runner's mail catcher received, at /dev/mail."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template

blueprint = Blueprint("devmail", __name__, url_prefix="/dev/mail")


def mail_folder() -> Path:
    return Path(current_app.instance_path) / "devmail"


def _load(name: str) -> email.message.EmailMessage:
    path = mail_folder() / f"{name}.eml"
    if not name.isalnum() or not path.is_file():
        abort(404)
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


@blueprint.route("/")
def inbox():
    paths = sorted(mail_folder().glob("*.eml"), reverse=True)[:200]
    messages = []
    for path in paths:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        messages.append(
            {
                "id": path.stem,
                "to": message["To"],
                "subject": message["Subject"],
                "date": message["Date"],
            }
        )
    return render_template("devmail/inbox.html", messages=messages)


@blueprint.route("/<name>")
def show(name: str):
    message = _load(name)
    text = message.get_body(preferencelist=("plain",))
    headers = [(key, value) for key, value in message.items()]
    return render_template(
        "devmail/message.html",
        name=name,
        headers=headers,
        text=text.get_content() if text else "",
    )


@blueprint.route("/<name>/html")
def show_html(name: str):
    html = _load(name).get_body(preferencelist=("html",))
    if html is None:
        abort(404)
    return Response(html.get_content(), mimetype="text/html")
