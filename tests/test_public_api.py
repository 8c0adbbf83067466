"""The package's public API is exactly what ``actiondesk.__all__`` lists."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import actiondesk


def test_all_lists_every_public_name_of_the_package() -> None:
    public = {
        name
        for name, value in vars(actiondesk).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public | {"__version__"} == set(actiondesk.__all__)
    assert sorted(actiondesk.__all__) == actiondesk.__all__, "keep __all__ sorted"


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
