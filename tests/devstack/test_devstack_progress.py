"""``make run``'s progress lines: each step's duration, and a total that includes the Makefile's install step."""

from __future__ import annotations

import logging
import time

import pytest

from devstack.progress import INSTALL_SECONDS, Progress


def test_each_step_prints_its_duration_and_the_summary_adds_the_install_step(caplog) -> None:
    progress = Progress.from_environ({INSTALL_SECONDS: "42.5"})

    with caplog.at_level(logging.INFO, logger="devstack"), progress.step("migrate"):
        time.sleep(0.2)

    assert [name for name, _seconds in progress.steps] == ["install", "migrate"]
    assert 0.2 <= progress.steps[1][1] < 5
    assert any(r.getMessage().startswith("progress: migrate") for r in caplog.records)
    total = float(progress.summary().split()[2])
    assert total == pytest.approx(42.5 + progress.steps[1][1], abs=0.1)
    assert "(install 42.5 s, migrate 0." in progress.summary()


@pytest.mark.parametrize("value", ["", "not a number"])
def test_without_an_install_figure_the_steps_start_with_the_database(value: str) -> None:
    assert Progress.from_environ({INSTALL_SECONDS: value}).steps == []
