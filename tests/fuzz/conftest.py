"""Fixtures of the fuzz tests: API clients of tests/api, a manufacturer intake key, hypothesis profiles."""

from __future__ import annotations

import pytest

from dealers.actors import Actor
from dealers.api_keys import create_api_key
from tests.api.conftest import api_a, api_b, api_for  # noqa: F401  (fixtures)


@pytest.fixture
def intake_key(db: None) -> str:
    return create_api_key(dealer=None, name="Website", scopes=["intake:write"], actor=Actor.system("test")).plaintext
