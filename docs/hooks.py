"""MkDocs hooks for the l2o site (registered in ``mkdocs.yml`` under ``hooks:``).

``summary-keys`` markers. A line that is exactly::

    <!-- summary-keys: package.module.ClassName -->

is replaced by a Markdown table of that frozen dataclass's fields: the key (the field name), its
type, and the description from ``dataclasses.field(metadata={"doc": "..."})`` (the type when a
field has no ``doc``). The class is imported: a marker naming something that cannot be imported,
or that is not a frozen dataclass, raises, so a ``--strict`` build fails loudly instead of
publishing a page without its table. Only with ``L2O_DOCS_ALLOW_MISSING=1`` in the environment
is a marker whose *module* does not exist yet skipped (a note is shown in its place); a missing
class in an existing module, or a module that fails while importing, still raises.

Sphinx roles. Docstrings written for Sphinx say ``:func:`name```; on the rendered API pages the
role prefix is dropped (``~a.b.c`` is shown as ``c``), leaving the code span.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import re
import types
import typing

log = logging.getLogger("mkdocs.hooks.l2o")

ALLOW_MISSING = "L2O_DOCS_ALLOW_MISSING"
MARKER = re.compile(r"^[ \t]*<!--[ \t]*summary-keys:[ \t]*([\w.]+)[ \t]*-->[ \t]*$", re.MULTILINE)
FENCE = re.compile(r"^[ \t]*(```|~~~)")
ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):(<code>)(~?)([^<]*)")


class MissingModule(LookupError):
    """The marker's module does not exist (the only case ``L2O_DOCS_ALLOW_MISSING`` skips)."""


def resolve(dotted: str) -> type:
    """The class named by ``package.module.ClassName`` (imported).

    Raises :class:`MissingModule` when the module itself does not exist, ``LookupError`` when
    the module exists but has no such attribute, and whatever importing the module raises."""
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        raise LookupError(f"summary-keys: {dotted!r} is not of the form package.module.ClassName")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        # only the module (or one of its packages) missing, not a failing import inside it
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise MissingModule(f"summary-keys: no module {module_name!r} ({e})") from e
        raise
    try:
        return getattr(module, attr)
    except AttributeError as e:
        raise LookupError(f"summary-keys: module {module_name!r} has no {attr!r}") from e


def type_name(tp: typing.Any) -> str:
    """A readable annotation: ``float``, ``dict[str, float]``, ``float | None``, ``Budget``."""
    if tp is type(None):
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is not None and args:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{name}[{inner}]"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _cell(text: str) -> str:
    """Table-cell text: one line, pipes escaped outside code spans (Python-Markdown's tables
    keep a pipe inside backticks as it is, and would show a backslash there)."""
    parts = re.split(r"(`[^`]*`)", " ".join(str(text).split()))
    return "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def summary_table(cls: type) -> str:
    """The Markdown table (key, type, meaning) of a frozen dataclass's fields."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"summary-keys: {cls!r} is not a dataclass")
    if not cls.__dataclass_params__.frozen:
        raise TypeError(f"summary-keys: {cls.__qualname__} is not a frozen dataclass")
    hints = typing.get_type_hints(cls)
    rows = ["| key | type | meaning |", "|---|---|---|"]
    for field in dataclasses.fields(cls):
        kind = type_name(hints.get(field.name, field.type))
        doc = field.metadata.get("doc") or kind
        rows.append(f"| `{field.name}` | `{kind}` | {_cell(doc)} |")
    return "\n".join(rows)


def _missing_note(dotted: str) -> str:
    return (
        f'!!! note "Key table"\n'
        f"    Generated from `{dotted}`, which this build could not import "
        f"({ALLOW_MISSING}=1 skipped it).\n"
    )


def replace_markers(markdown: str, allow_missing: bool | None = None) -> str:
    """``markdown`` with every marker line (outside fenced code) replaced by its table."""
    if allow_missing is None:
        allow_missing = os.environ.get(ALLOW_MISSING) == "1"
    out, fence = [], None
    for line in markdown.splitlines(keepends=True):
        opened = FENCE.match(line)
        if opened:
            if fence is None:
                fence = opened.group(1)
            elif opened.group(1) == fence:
                fence = None
        match = MARKER.match(line.rstrip("\n")) if fence is None else None
        if not match:
            out.append(line)
            continue
        dotted = match.group(1)
        try:
            table = summary_table(resolve(dotted))
        except MissingModule:
            if not allow_missing:
                raise
            log.info("summary-keys: skipping %s (module missing, %s=1)", dotted, ALLOW_MISSING)
            table = _missing_note(dotted)
        out.append(table + "\n")
    return "".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return replace_markers(markdown)


def _drop_role(match: re.Match) -> str:
    code, short, target = match.groups()
    return code + (target.rsplit(".", 1)[-1] if short else target)


def on_page_content(html: str, page, config, files) -> str:
    return ROLE.sub(_drop_role, html)
