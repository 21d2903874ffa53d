"""The docs: the site builds with ``mkdocs build --strict``, the pages carry no tracker history
or paths outside the repository, and the ``summary-keys`` hook (``docs/hooks.py``) makes the
key table of a frozen dataclass and fails loudly when it cannot."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_hooks():
    spec = importlib.util.spec_from_file_location("l2o_docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()

# mkdocs in a subprocess, importing l2o from this checkout only: an editable install of another
# checkout would otherwise lend its modules to the hook's imports
BUILD = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path "
    "if not getattr(f, '__module__', '').startswith('__editable__')]; "
    "from mkdocs.__main__ import cli; cli()"
)


def test_mkdocs_build_strict(tmp_path):
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(package)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop(hooks.ALLOW_MISSING, None)
    if not (ROOT / "l2o" / "pipeline").is_dir():
        # the summary classes (l2o.pipeline.*) are not written yet: their markers are skipped.
        # Once l2o/pipeline exists, every marker must resolve.
        env[hooks.ALLOW_MISSING] = "1"
    site = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-c", BUILD, "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for page in ("index.html", "results/index.html", "api/metrics/index.html"):
        assert (site / page).is_file(), page
    assert "spearman" in (site / "api" / "metrics" / "index.html").read_text()


def _doc_files() -> list[Path]:
    files = [p for p in (ROOT / "docs").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return [*files, ROOT / "README.md", ROOT / "CONTRIBUTING.md"]


def test_docs_carry_no_issue_numbers():
    pattern = re.compile(r"\bissue\s+#?\d", re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _doc_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "tracker history in the docs:\n" + "\n".join(found)


def test_readme_has_no_paths_outside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme


def test_readme_tour_block_is_python():
    """The first code block under "Design for your own device" is a ```python fence."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = re.search(r"^#+ Design for your own device\s*$", readme, re.MULTILINE)
    assert heading, "README.md lost its 'Design for your own device' heading"
    fence = re.search(r"^```\S*", readme[heading.end() :], re.MULTILINE)
    assert fence and fence.group(0) == "```python"


# --- the summary-keys hook ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Gaps:
    mean: float = dataclasses.field(metadata={"doc": "mean gap"})


@dataclasses.dataclass(frozen=True)
class ToySummary:
    device: str = dataclasses.field(metadata={"doc": "the held-out device"})
    gaps: Gaps
    margin: float | None = dataclasses.field(default=None, metadata={"doc": "a | b, or `x|y`"})
    per_budget: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0


@dataclasses.dataclass
class Mutable:
    x: int = 0


TOY = f"{ToySummary.__module__}.{ToySummary.__qualname__}"


def test_summary_table_lists_every_field_with_its_doc_or_type():
    assert hooks.summary_table(ToySummary).splitlines() == [
        "| key | type | meaning |",
        "|---|---|---|",
        "| `device` | `str` | the held-out device |",
        "| `gaps` | `Gaps` | Gaps |",
        r"| `margin` | `float | None` | a \| b, or `x|y` |",
        "| `per_budget` | `dict[str, tuple[float, ...]]` | dict[str, tuple[float, ...]] |",
        "| `seconds` | `float` | float |",
    ]


def test_summary_table_renders_as_a_table():
    markdown = pytest.importorskip("markdown")
    html = markdown.markdown(hooks.summary_table(ToySummary), extensions=["tables"])
    assert html.count("<tr>") == 6
    assert "<code>float | None</code>" in html and "a | b" in html


def test_markers_are_replaced_outside_code_fences():
    text = f"# Summary\n\n<!-- summary-keys: {TOY} -->\n\n```\n<!-- summary-keys: {TOY} -->\n```\n"
    out = hooks.replace_markers(text, allow_missing=False)
    assert out.count("| `device` | `str` | the held-out device |") == 1
    assert out.count(f"<!-- summary-keys: {TOY} -->") == 1  # the fenced one is left alone


def test_missing_module_raises_unless_allowed():
    text = "<!-- summary-keys: l2o.no_such_module.Summary -->\n"
    with pytest.raises(hooks.MissingModule, match="l2o.no_such_module"):
        hooks.replace_markers(text, allow_missing=False)
    out = hooks.replace_markers(text, allow_missing=True)
    assert "l2o.no_such_module.Summary" in out and "<!--" not in out


def test_environment_variable_allows_missing_modules(monkeypatch):
    text = "<!-- summary-keys: l2o.no_such_module.Summary -->\n"
    monkeypatch.delenv(hooks.ALLOW_MISSING, raising=False)
    with pytest.raises(hooks.MissingModule):
        hooks.replace_markers(text)
    monkeypatch.setenv(hooks.ALLOW_MISSING, "1")
    assert "could not import" in hooks.replace_markers(text)


def test_other_failures_raise_even_when_missing_modules_are_allowed():
    module = ToySummary.__module__
    for marker, error in (
        (f"{module}.NoSuchSummary", LookupError),  # the module exists, the class does not
        (f"{module}.Mutable", TypeError),  # not frozen
        (f"{module}.TOY", TypeError),  # not a dataclass
    ):
        with pytest.raises(error):
            hooks.replace_markers(f"<!-- summary-keys: {marker} -->\n", allow_missing=True)


def test_sphinx_roles_are_dropped_from_rendered_pages():
    html = "see :func:<code>~l2o.search.evolution.evolve</code> and :class:<code>Space</code>"
    assert hooks.on_page_content(html, None, None, None) == (
        "see <code>evolve</code> and <code>Space</code>"
    )


def _keys(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= _keys(value, f"{prefix}{key}.")
    return out


def test_every_documented_option_is_a_key_of_its_schema():
    """The Options table of each experiment's page names only keys its config schema has (a
    renamed or removed option fails here, not in a user's shell)."""
    import importlib

    from experiments._app import SCHEMAS
    from l2o.config import defaults

    for app in (ROOT / "experiments").glob("*.py"):
        if not app.stem.startswith("_"):
            importlib.import_module(f"experiments.{app.stem}")
    for name, schema in sorted(SCHEMAS.items()):
        page = (ROOT / "docs" / "experiments" / f"{name}.md").read_text()
        table = re.search(r"## Options\n(.*?)\n## ", page, re.S)
        assert table, f"docs/experiments/{name}.md has no Options section"
        known, unknown = _keys(defaults(schema)), []
        for row in table.group(1).splitlines():
            if not row.startswith("| `"):
                continue
            for key in re.findall(r"`([^`]+)`", row.split("|")[1]):
                key = key.lstrip("+").split("=")[0].removesuffix(".*")
                if key.startswith(".") or "<" in key:  # `.batch` after `optimizer.steps`
                    continue
                if key not in known and not any(k.startswith(key + ".") for k in known):
                    unknown.append(key)
        assert not unknown, f"docs/experiments/{name}.md documents unknown options {unknown}"
