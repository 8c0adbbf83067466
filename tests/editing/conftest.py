from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.databases import BACKENDS
from tests.editing.editing_app import EditingServer, serve


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[EditingServer]:
    yield from serve(request.param, tmp_path_factory.mktemp("editing-" + request.param))
