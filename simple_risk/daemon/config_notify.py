"""The configuration's notification channels: ``notify:`` (a webhook, apprise URLs, the
lowest severity pushed) and the deprecated ``alert_webhook``.

A notification URL usually carries a token: every message about one shows it masked
(:func:`masked_url`), a schema message quoting it included. A webhook without a scheme or a
host, an apprise URL apprise does not know, and a URL given twice are located mistakes.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Mapping
from typing import Any

from simple_risk.daemon.config_problems import located
from simple_risk.daemon.settings import NotifySettings
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.yamlload import Document


def masked_url(url: str) -> str:
    """A notification URL shown without what follows its scheme (usually a token):
    ``tgram://…``, ``https://…``; ``tgram:/…`` for one missing a slash."""
    scheme, sep, _ = url.partition("://")
    if sep:
        return f"{scheme}://…"
    scheme, sep, _ = url.partition(":")
    return f"{scheme}:…" if sep and scheme.isalnum() else "…"


def _notify_urls(data: object) -> list[str]:
    """Every notification URL the configuration writes (each may carry a token)."""
    if not isinstance(data, Mapping):
        return []
    section = data.get("notify")
    section = section if isinstance(section, Mapping) else {}
    urls = section.get("urls")
    found = [data.get("alert_webhook"), section.get("webhook")]
    found += urls if isinstance(urls, list) else [urls]
    return [url for url in found if isinstance(url, str) and url]


def without_notify_tokens(problem: Problem, data: object) -> Problem:
    """A schema message quotes the value it refuses: a notification URL's is shown masked."""
    message, hint = problem.message, problem.hint
    for url in sorted(_notify_urls(data), key=len, reverse=True):
        message = message.replace(url, masked_url(url))
        hint = hint.replace(url, masked_url(url)) if hint else hint
    return dataclasses.replace(problem, message=message, hint=hint)


def webhook_schemes(doc: Document) -> list[Problem]:
    """A webhook pasted without its ``https://`` (as an address bar shows it): the schema's
    own words for it hide the value and say nothing of the scheme."""
    data = doc.data if isinstance(doc.data, Mapping) else {}
    section = data.get("notify")
    section = section if isinstance(section, Mapping) else {}
    problems: list[Problem] = []
    for path, url in (
        (("notify", "webhook"), section.get("webhook")),
        (("alert_webhook",), data.get("alert_webhook")),
    ):
        if isinstance(url, str) and not url.startswith(("http://", "https://")):
            problem = located(
                doc,
                path,
                f"{'.'.join(map(str, path))} {masked_url(url)}: not an http:// or https:// URL",
                hint="the chat's webhook URL as the service shows it, starting with https://,"
                " e.g. https://hooks.slack.com/…",
            )
            problems.append(dataclasses.replace(problem, check="webhook-scheme"))
    return problems


def _webhook_host(doc: Document, data: Mapping[str, Any]) -> list[Problem]:
    """A webhook must name a host: ``https://`` alone or a URL with a space fails every post."""
    section = data.get("notify") or {}
    for path, url in (
        (("notify", "webhook"), section.get("webhook")),
        (("alert_webhook",), data.get("alert_webhook")),
    ):
        if url is None:
            continue
        try:
            host = urllib.parse.urlsplit(url).hostname
        except ValueError:
            host = None
        if not host or any(c.isspace() for c in url):
            return [
                located(
                    doc,
                    path,
                    f"{'.'.join(map(str, path))} {masked_url(url)}: not a URL with a host",
                    hint="the chat's webhook URL as the service shows it,"
                    " e.g. https://hooks.slack.com/…",
                )
            ]
    return []


def notify_settings(doc: Document, data: Mapping[str, Any]) -> tuple[NotifySettings, list[Problem]]:
    """``notify:``; the deprecated ``alert_webhook`` fills ``notify.webhook`` when unset."""
    section = data.get("notify") or {}
    webhook = section.get("webhook")
    legacy = data.get("alert_webhook")
    if webhook is not None and legacy is not None and webhook != legacy:
        return NotifySettings(), [
            located(
                doc,
                ("alert_webhook",),
                "alert_webhook and notify.webhook name different URLs",
                hint="alert_webhook is deprecated: keep notify.webhook only",
                key=True,
            )
        ]
    # the schema enumerates the severities (a test keeps it equal to model.SEVERITIES)
    severity = str(section.get("min_severity", "warning"))
    urls = tuple(str(url) for url in section.get("urls") or ())
    problems = _webhook_host(doc, data)
    if urls:
        from simple_risk.daemon.notifications import invalid_apprise_urls

        bad = set(invalid_apprise_urls(urls))
        problems += [
            located(
                doc,
                ("notify", "urls", index),
                # the scheme only: the rest of such a URL is usually a token
                f"{masked_url(url)}: not a notification URL apprise knows",
                hint="e.g. tgram://BOT_TOKEN/CHAT_ID, discord://WEBHOOK_ID/TOKEN, "
                "ntfy://TOPIC, pover://USER@TOKEN (see apprise's documentation)",
            )
            for index, url in enumerate(urls)
            if url in bad
        ]
        first: dict[str, int] = {}
        for index, url in enumerate(urls):
            if url in first:
                line = doc.at(("notify", "urls", first[url])).line
                problems.append(
                    located(
                        doc,
                        ("notify", "urls", index),
                        f"{masked_url(url)}: the same notification URL as item"
                        f" {first[url] + 1} (line {line}): every alert would be pushed to it"
                        " twice",
                        hint="keep one",
                    )
                )
            first.setdefault(url, index)
    settings = NotifySettings(webhook=webhook or legacy, min_severity=severity, urls=urls)
    return settings, problems


__all__ = ["masked_url", "notify_settings", "webhook_schemes", "without_notify_tokens"]
