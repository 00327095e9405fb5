"""Operator commands: `flask --app updates topics …`, `staff …`, `api-token …`, `demo`, `dev`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click
from flask import Flask
from flask.cli import AppGroup

from updates.dev.demo import load_demo
from updates.news.topics import TopicError, add_topic, all_topics
from updates.staff.accounts import ROLES, StaffError, add_staff, create_api_token
from updates.subscribers.importer import ImportProblem, Progress, import_subscribers, read_rows

topics_cli = AppGroup("topics", help="Add and list topics.")
subscribers_cli = AppGroup("subscribers", help="Import subscribers.")
staff_cli = AppGroup("staff", help="Add staff accounts.")
api_token_cli = AppGroup("api-token", help="Create tokens for the staff JSON API.")

PASSWORD_VARIABLE = "UPDATES_PASSWORD"


@topics_cli.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--description", default="", help="One or two sentences shown on the sign-up form.")
@click.option("--hidden", is_flag=True, help="Leave it off the public sign-up form.")
def topics_add(slug: str, name: str, description: str, hidden: bool) -> None:
    """Add a topic that visitors can follow."""
    try:
        topic = add_topic(slug, name, description, public=not hidden)
    except TopicError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"added topic {topic.slug}")


@topics_cli.command("list")
def topics_list() -> None:
    """List every topic: slug, visibility and name."""
    for topic in all_topics():
        visibility = "archived" if topic.archived else ("public" if topic.public else "hidden")
        click.echo(f"{topic.slug}\t{visibility}\t{topic.name}")


@subscribers_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--topics", "topic_list", required=True, help="Comma-separated topic slugs.")
@click.option(
    "--consent",
    "consent_text",
    required=True,
    help="The basis of these people's consent, recorded for each of them.",
)
def subscribers_import(file: TextIO, topic_list: str, consent_text: str) -> None:
    """Import a CSV (header row, an `email` column) as active subscribers; safe to run twice."""
    slugs = [slug.strip() for slug in topic_list.split(",") if slug.strip()]
    try:
        with _row_progress(file) as progress:
            report = import_subscribers(read_rows(file), slugs, consent_text, progress)
    except ImportProblem as error:
        raise click.ClickException(str(error)) from error
    click.echo(report.summary())


@contextmanager
def _row_progress(file: TextIO) -> Iterator[Progress | None]:
    """A bar counting the file's rows when someone watches a terminal; None otherwise."""
    # Off a terminal the output stays exactly the summary line, for scripts that read it.
    if not sys.stdout.isatty() or not file.seekable():
        yield None
        return
    total = sum(1 for _ in read_rows(file))
    file.seek(0)
    with click.progressbar(length=total, label="Importing", show_pos=True) as bar:
        yield lambda rows, _report: bar.update(rows)


@staff_cli.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
def staff_add(email: str, role: str) -> None:
    """Add a staff account; the password comes from UPDATES_PASSWORD, else a prompt."""
    # Never an option: a password on the command line ends up in shell history and `ps`.
    password = os.environ.get(PASSWORD_VARIABLE) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        staff = add_staff(email, role, password)
    except StaffError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"added {staff.role} {staff.email}")


@api_token_cli.command("create")
@click.argument("email")
def api_token_create(email: str) -> None:
    """Print a new API token for a staff account, and nothing else."""
    try:
        token = create_api_token(email)
    except StaffError as error:
        raise click.ClickException(str(error)) from error
    click.echo(token)


@click.command("demo")
def demo() -> None:
    """Load sample topics and updates (safe to run again)."""
    load_demo(click.echo)


@click.command("dev")
@click.option("--port", default=5000, show_default=True, help="Port for the web app.")
@click.option("--mail-port", default=8025, show_default=True, help="Port for the mail catcher.")
def dev(port: int, mail_port: int) -> None:
    """Run everything for development: web, worker, Redis, mail catcher. Ctrl-C stops it all."""
    from updates.dev.runner import run

    run(port=port, mail_port=mail_port)


def register_commands(app: Flask) -> None:
    app.cli.add_command(topics_cli)
    app.cli.add_command(subscribers_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(api_token_cli)
    app.cli.add_command(demo)
    app.cli.add_command(dev)
