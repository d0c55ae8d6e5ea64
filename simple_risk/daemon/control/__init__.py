"""The status/admin server inside the daemon and its client (docs/status-protocol.md).

The daemon listens on a local socket; traders' read-only commands (``engine status``,
``monitor``, ``history``) and the password-protected ``admin`` commands all speak the same
newline-delimited JSON protocol, so other tools can too.
"""
