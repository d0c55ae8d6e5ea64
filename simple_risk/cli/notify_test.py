"""``simple-risk admin notify-test --config FILE``: push a test message to every channel.

An admin who sets up the phone push (``notify:`` — a chat webhook, Telegram, Discord, ntfy …)
learns whether it works only when the first real alert is lost: a mistyped token, a bot that
was never started in the chat, a webhook the chat revoked. This command sends one message
through each channel of the configuration, as the daemon would (the same channel classes,
the same timeouts), and says which delivered and why each other did not. It needs no daemon
and no password: it sends nothing but a test message, to channels the configuration already
names, and reads the configuration as the daemon's user does (its tokens are in it).

Exit status: 0 every channel delivered, 1 a channel failed or none is configured, 2 usage.
"""

from __future__ import annotations

import socket
import sys
import time

import click

from simple_risk.cli.admin import admin
from simple_risk.cli.status import config_or_exit
from simple_risk.daemon.config_notify import masked_url
from simple_risk.daemon.notifications import AppriseChannel, Channel, DeliveryError, WebhookChannel
from simple_risk.daemon.settings import NotifySettings


def _channels(settings: NotifySettings) -> list[tuple[str, Channel]]:
    """Each configured channel with what to call it (its URL, masked: it holds a token)."""
    found: list[tuple[str, Channel]] = []
    if settings.webhook:
        found.append((f"webhook {masked_url(settings.webhook)}", WebhookChannel(settings.webhook)))
    for url in settings.urls:
        found.append((masked_url(url), AppriseChannel(url)))
    return found


@admin.command("notify-test")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The daemon's configuration: its notify: channels are tested.",
)
def notify_test(config_path: str) -> None:
    """Push a test message to every notification channel and say which delivered.

    Sends one message, as the daemon would, to the webhook and each apprise URL of the
    configuration's notify: section; no daemon and no password needed. Run it as the
    daemon's user (the configuration holds the channels' tokens).

    \b
    Examples:
      sudo -u simple-risk simple-risk admin notify-test \\
          --config /etc/simple-risk/config.yaml
      simple-risk admin notify-test --config ~/.config/simple-risk/config.yaml

    Exit codes: 0 every channel delivered, 1 one failed or none is configured, 2 usage.
    """
    config = config_or_exit(config_path)
    channels = _channels(config.notify)
    if not channels:
        click.echo(
            f"{config_path}: no notification channel is configured (notify: webhook or urls): "
            "alerts go to the log, engine status and the dashboard only",
            err=True,
        )
        sys.exit(1)
    accounts = ", ".join(str(account) for account in config.accounts) or "none"
    text = (
        f"simple-risk test notification from {socket.gethostname()} (accounts {accounts}): "
        "if you read this, the daemon's alerts reach you here"
    )
    failed = 0
    for name, channel in channels:
        started = time.monotonic()
        try:
            channel.deliver("warning", text)
        except DeliveryError as exc:
            failed += 1
            click.secho(f"FAILED     {name}: {exc}", fg="red")
            continue
        click.secho(f"delivered  {name} ({time.monotonic() - started:.1f} s)", fg="green")
    minimum = config.notify.min_severity
    click.echo(f"alerts of severity {minimum} and above are pushed to these channels")
    sys.exit(1 if failed else 0)
