"""Registers every sub-group on the root ``simple-risk`` group."""

from __future__ import annotations

from simple_risk.cli import (
    admin,  # noqa: F401
    admin_daemon,  # noqa: F401
    admin_logs,  # noqa: F401
    admin_password,  # noqa: F401
    admin_rules,  # noqa: F401
    demo,  # noqa: F401
    engine,  # noqa: F401
    history,  # noqa: F401
    init,  # noqa: F401
    notify_test,  # noqa: F401
    replay,  # noqa: F401
    rules,  # noqa: F401
    rules_test,  # noqa: F401
    sim,  # noqa: F401
    status,  # noqa: F401
)
