"""Where simple-risk keeps its files by default (the XDG base directories).

Kept apart from the configuration loader so that the small commands that only need to find
the daemon's socket (``engine status``, ``admin …``) do not import the ruleset compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def xdg_dir(kind: str, env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/simple-risk`` (kind ``data``), ``$XDG_STATE_HOME/simple-risk``
    (``state``) or ``$XDG_RUNTIME_DIR/simple-risk`` (``runtime``; ``~/.simple-risk`` without
    a runtime directory)."""
    home = Path(env.get("HOME", str(Path.home())))
    if kind == "data":
        return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "simple-risk"
    if kind == "state":
        return Path(env.get("XDG_STATE_HOME") or home / ".local" / "state") / "simple-risk"
    runtime = env.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "simple-risk" if runtime else home / ".simple-risk"


__all__ = ["xdg_dir"]
