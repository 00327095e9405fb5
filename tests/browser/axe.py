"""axe-core, the accessibility checker, run in the page a test is looking at.

axe-core comes from npm: `npm install --prefix .cache/axe axe-core@4` (CI's `.ci/run` does it).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from updates import ROOT

AXE_SCRIPT = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
INSTALL = "npm install --prefix .cache/axe axe-core@4"

# axe's rules as it ships them (WCAG 2 A and AA, and its best practices), every impact.
RUN = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def violations(page: Page, script: str) -> list[dict[str, object]]:
    """What axe finds wrong on the page as it stands; evaluated, so the page's policy allows it."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(script)
    return page.evaluate(RUN)


def script_text(path: Path = AXE_SCRIPT) -> str | None:
    return path.read_text() if path.exists() else None
