"""The package's layers hold: every module has a layer, and no import runs where it may not.

The layers and their arrows are drawn in docs/architecture.md; this is the map in code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "updates"

BASE = {
    "config",
    "extensions",
    "models",
    "transaction",
    "queues",
    "tokens",
    "links",
    "addresses",
    "errors",
    "headers",
    "redaction",
    "gunicorn_conf",
    "ratelimits",
    "forms",
    "limits",
    "edge",
    "health",
    "instruments",
    "logs",
    "service_metrics",
    "paging",
}
DOMAIN = {"subscribers", "news", "staff"}
WEB = {"public", "preferences", "console", "api", "webhooks", "monitoring"}

# What each layer may import, itself included. The factory (updates/__init__.py) builds the app
# from everything; dev may read ROOT from it; only the CLI and the factory import dev.
MAY_IMPORT = {
    "base": {"base"},
    "mail": {"base", "mail"},
    "domain": {"base", "mail", "domain"},
    "worker": {"base", "mail", "domain", "worker"},
    "web": {"base", "mail", "domain", "web"},
    "dev": {"base", "mail", "domain", "dev", "factory"},
    "cli": {"base", "mail", "domain", "dev", "cli"},
    "factory": {"base", "web", "dev", "cli", "factory"},
}


def layer_of(module: str) -> str | None:
    """The layer of a module under `updates`; None outside the package, "?" if unplaced."""
    parts = module.split(".")
    if parts[0] != "updates":
        return None
    if len(parts) == 1:
        return "factory"
    head = parts[1]
    if head in BASE:
        return "base"
    if head in DOMAIN:
        return "domain"
    if head in WEB:
        return "web"
    if head in {"mail", "worker", "dev", "cli"}:
        return head
    return "?"


def is_package_module(module: str, package_root: Path = PACKAGE) -> bool:
    """Whether `updates.x.y` names a module or package on disk (not an attribute of one)."""
    path = package_root.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(
    module: str, source: str, is_package: bool, package_root: Path = PACKAGE
) -> list[tuple[int, str]]:
    """Every `updates` module the source imports, anywhere in it, with the line it does so on.

    `from updates import x` imports `updates.x` when x is a module, else `updates` itself.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if not origin.startswith("updates"):
                continue
            for alias in node.names:
                name = f"{origin}.{alias.name}"
                found.append(
                    (node.lineno, name if is_package_module(name, package_root) else origin)
                )
    return [(line, target) for line, target in found if layer_of(target) is not None]


def violations(
    module: str, source: str, is_package: bool = False, package_root: Path = PACKAGE
) -> list[str]:
    """A line for each import the module's layer may not make, and for a module with no layer."""
    layer = layer_of(module)
    if layer == "?":
        return [f"{module} belongs to no layer: add it to one in tests/test_layers.py"]
    problems = []
    for line, target in imports_of(module, source, is_package, package_root):
        target_layer = layer_of(target)
        if target_layer == "?":
            problems.append(f"{module}:{line} imports {target}, which belongs to no layer")
        elif target_layer not in MAY_IMPORT[layer]:
            problems.append(
                f"{module}:{line} imports {target} ({layer} may not import {target_layer})"
            )
    return problems


def package_modules() -> list[tuple[str, Path]]:
    """Every module under updates/, by dotted name."""
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append((".".join(parts), path))
    return modules


def test_every_module_belongs_to_a_layer():
    unplaced = [module for module, _ in package_modules() if layer_of(module) == "?"]
    assert unplaced == [], f"place these modules in a layer: {unplaced}"


def test_no_import_breaks_the_layers():
    problems = []
    for module, path in package_modules():
        problems += violations(module, path.read_text(), path.name == "__init__.py")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "import updates.worker.delivery",
        "from updates.worker import delivery",
        "from updates.worker.delivery import send_batch",
        "from ..worker import delivery",
        "from .. import worker",
        "def view():\n    from updates.worker.delivery import send_batch\n",
    ],
)
def test_the_checker_catches_a_web_module_importing_the_worker(source: str):
    [problem] = violations("updates.public.views", source)
    assert problem.startswith("updates.public.views:")
    assert "imports updates.worker" in problem
    assert "(web may not import worker)" in problem


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        (
            "updates.mail.outbox",
            "from updates.subscribers import signup",
            "mail may not import domain",
        ),
        (
            "updates.news.digests",
            "from updates.worker import delivery",
            "domain may not import worker",
        ),
        (
            "updates.subscribers.signup",
            "from updates.public import views",
            "domain may not import web",
        ),
        ("updates.console.admin", "from updates.dev import demo", "web may not import dev"),
        (
            "updates.models",
            "from updates.news.topics import add_topic",
            "base may not import domain",
        ),
    ],
)
def test_the_checker_catches_arrows_that_climb(module: str, source: str, rule: str):
    [problem] = violations(module, source)
    assert rule in problem


def test_the_checker_allows_what_the_layers_allow():
    source = """
from updates import queues, tokens
from updates.mail import outbox
from . import topics
"""
    assert violations("updates.news.digests", source) == []


def test_a_new_top_level_module_must_be_placed():
    assert violations("updates.helpers", "") == [
        "updates.helpers belongs to no layer: add it to one in tests/test_layers.py"
    ]
