"""End-to-end tests: the real portal (runserver + a Celery worker on Redis) as subprocesses.

The `portal_stack` fixture lives in tests/portal_stack.py so that tests/browser shares the
same running stack; a failing test gets the stack's logs in its report.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.portal_stack import attach_logs, portal_stack

__all__ = ["portal_stack"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    attach_logs(item, report)
    return report
