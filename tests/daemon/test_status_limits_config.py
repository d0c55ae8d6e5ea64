"""``status_limits`` in the daemon's configuration: defaults, values, located mistakes."""

from __future__ import annotations

from pathlib import Path

from simple_risk.daemon.config import StatusLimits, load_config

from .test_config import ENV, EXAMPLE, MINIMAL, _problem, _write


def test_the_status_limits_have_defaults_that_keep_a_reserve_for_the_admin(
    tmp_path: Path,
) -> None:
    limits = load_config(_write(tmp_path, MINIMAL), ENV).status_limits
    assert limits == StatusLimits(
        max_connections=64,
        per_user_connections=8,
        admin_reserved_connections=4,
        idle_timeout=120.0,
    )


def test_the_status_limits_can_be_set(tmp_path: Path) -> None:
    text = MINIMAL + (
        "status_limits:\n"
        "  max_connections: 32\n"
        "  per_user_connections: 4\n"
        "  admin_reserved_connections: 2\n"
        "  idle_timeout: 30\n"
    )
    limits = load_config(_write(tmp_path, text), ENV).status_limits
    assert limits == StatusLimits(32, 4, 2, 30.0)


def test_a_reserve_that_leaves_nothing_for_anyone_else_is_located(tmp_path: Path) -> None:
    text = "status_limits:\n  max_connections: 4\n  admin_reserved_connections: 4\n"
    assert _problem(tmp_path, text) == (
        "config.yaml:8:31: admin_reserved_connections (4) leaves no connection of "
        "max_connections (4) for anyone else (keep a few (4) for admin operations, "
        "below max_connections)"
    )


def test_a_zero_cap_is_a_schema_error(tmp_path: Path) -> None:
    assert "per_user_connections" in _problem(
        tmp_path, "status_limits:\n  per_user_connections: 0\n"
    )


def test_the_example_configurations_status_limits_are_the_defaults(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index(next(line for line in lines if line.startswith("# status_limits:")))
    block = [lines[start].removeprefix("# ")]
    block += [line.removeprefix("#") for line in lines[start + 1 :] if line.startswith("#   ")][:4]
    config = load_config(_write(tmp_path, MINIMAL + "\n".join(block) + "\n"), ENV)
    assert config.status_limits == StatusLimits()
