"""The trader's dashboard: one live page per guarded account, in the browser, on loopback.

The status socket speaks JSON lines to programs; traders live in a browser. The daemon serves
a small read-only web page (``dashboard: 127.0.0.1:8766`` in the configuration) that shows the
same picture ``simple-risk engine status`` does — the day's P&L against the loss limit, open
positions and whether a stop protects them, working orders, lockouts with their countdowns,
pending ``for:`` timers, the session, the connection and the latest firings — and keeps it
current over Server-Sent Events. It never shows more than the status socket would show a
trader (no credentials, no admin hash) and it only ever binds to a loopback address.
"""

from __future__ import annotations

from simple_risk.daemon.dashboard.server import DEFAULT_ADDRESS, DashboardServer

__all__ = ["DEFAULT_ADDRESS", "DashboardServer"]
