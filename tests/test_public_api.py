"""The package's public API is exactly what ``actiondesk.__all__`` lists, and that is exactly
the names meant to be public: those the README and docs/ import from ``actiondesk``, and the
list below."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import actiondesk

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# What a user imports from ``actiondesk``. A name added to ``__all__`` is added here on purpose;
# one that leaves ``__all__`` is deprecated first (it stays importable, with a warning).
MEANT = {
    # declaring actions, their context and results
    "Action", "ActionContext", "Caller", "FormContext", "ParentContext", "Scope", "Selection",
    "Result", "Success", "Error", "Html", "File", "Redirect", "Refresh", "Webhook",
    "ActionError", "UnsafeResultError", "Batch", "BatchCursor", "RunCancelled",
    # the desk, its settings and its data
    "Desk", "Settings", "Collection", "Field", "FieldType", "Relationship", "RelationshipKind",
    "Condition", "Filter", "Group", "Operator", "all_of", "any_of", "parse_filter",
    "decode_id", "encode_id",
    # how collections read
    "CollectionDisplay", "DisplayError", "FieldDisplay",
    # the built-in record actions (edit, create, delete)
    "Editing", "InvalidValues",
    # remote actions
    "RemoteActions", "RemoteProvider",
    # errors
    "ActiondeskError", "BadRequestError", "ClientError", "ConfigurationError", "FilterError",
    "ForbiddenError", "NotFoundError", "UnavailableError", "UpstreamError",
    "UpstreamTimeoutError",
    "__version__",
}
# Submodules the docs import by name (``from actiondesk import fields as f``).
PUBLIC_MODULES = {"fields", "remote"}

FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
IMPORT = re.compile(r"^[ \t]*from[ \t]+actiondesk(\.\w+)*[ \t]+import[ \t]+(\([^)]*\)|.*)$",
                    re.MULTILINE)
PROSE = re.compile(r"`actiondesk\.([A-Z]\w*)")  # `actiondesk.RemoteActions`; not a file name


def documented(module: str) -> set[str]:
    """The names the README and docs/ import from ``module`` in their Python examples (and,
    for ``actiondesk``, name as ``actiondesk.Name`` in their text)."""
    names: set[str] = set()
    for path in DOCS:
        text = path.read_text()
        for block in FENCE.findall(text):
            for found in IMPORT.finditer(block):
                statement = ast.parse(found.group(0).strip()).body[0]
                assert isinstance(statement, ast.ImportFrom)
                if statement.module == module:
                    names |= {alias.name for alias in statement.names}
        if module == "actiondesk":
            names |= set(PROSE.findall(text))
    return names


def test_all_lists_every_public_name_of_the_package() -> None:
    public = {
        name
        for name, value in vars(actiondesk).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public | {"__version__"} == set(actiondesk.__all__)
    assert sorted(actiondesk.__all__) == actiondesk.__all__, "keep __all__ sorted"


def test_all_is_exactly_the_names_meant_to_be_public() -> None:
    meant = MEANT | (documented("actiondesk") - PUBLIC_MODULES)
    exported = set(actiondesk.__all__)
    assert not exported - meant, f"exported but not meant to be public: {exported - meant}"
    assert not meant - exported, f"meant to be public but not exported: {meant - exported}"


def test_the_docs_import_only_what_is_public() -> None:
    names = documented("actiondesk")
    assert {"Desk", "ActionContext", "RemoteActions"} <= names, "the docs' examples not found"
    assert names <= MEANT | PUBLIC_MODULES, f"not in MEANT: {names - MEANT - PUBLIC_MODULES}"
    for module in PUBLIC_MODULES:
        importlib.import_module(f"actiondesk.{module}")
    import actiondesk.remote as remote

    remote_names = documented("actiondesk.remote")
    assert remote_names, "the docs' remote examples not found"
    assert remote_names <= set(remote.__all__), remote_names - set(remote.__all__)


def test_every_listed_name_imports() -> None:
    for name in actiondesk.__all__:
        assert getattr(actiondesk, name) is not None


def test_every_module_imports() -> None:
    for info in pkgutil.walk_packages(actiondesk.__path__, "actiondesk."):
        importlib.import_module(info.name)


def test_the_remote_package_lists_its_public_names() -> None:
    import actiondesk.remote as remote

    public = {name for name, value in vars(remote).items()
              if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(remote.__all__)
    assert actiondesk.RemoteActions is remote.RemoteActions
