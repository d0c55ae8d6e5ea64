"""The daemon's alerts: ``status`` and the dashboard show what is wrong now (the trading
day's alerts, and the last hour's), every alert is kept for ``engine history``, and one raised
before the store writer started is kept too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simple_risk.daemon.announce import ALERT_SHOWN_FOR, Alerter, QuietObserver

#: Tuesday's trading day began on Monday at 17:00 Chicago (23:00 UTC)
DAY_START = datetime(2027, 1, 11, 23, 0, tzinfo=UTC)
ACCOUNT, OTHER = 20100001, 20100002


def alerter() -> Alerter:
    return Alerter(None, QuietObserver(), several=True)


def test_yesterdays_alerts_leave_status_and_are_counted() -> None:
    alerts = alerter()
    alerts.alert("critical", "user hub down for 45s", DAY_START - timedelta(hours=5))
    alerts.alert("warning", "a reconcile failed", DAY_START + timedelta(hours=2))
    now = DAY_START + timedelta(hours=3)
    shown, earlier = alerts.current(10, now, DAY_START)
    assert [a["message"] for a in shown] == ["a reconcile failed"]
    assert earlier == 1


def test_an_alert_raised_just_before_the_day_reset_stays_for_an_hour() -> None:
    alerts = alerter()
    raised = DAY_START - timedelta(minutes=2)
    alerts.alert("critical", "the close keeps failing", raised, ACCOUNT)
    shown, earlier = alerts.current(10, DAY_START + timedelta(minutes=5), DAY_START, ACCOUNT)
    assert [a["message"] for a in shown] == ["the close keeps failing"]
    assert earlier == 0
    later = raised + ALERT_SHOWN_FOR + timedelta(seconds=1)
    shown, earlier = alerts.current(10, later, DAY_START, ACCOUNT)
    assert (shown, earlier) == ([], 1)


def test_one_accounts_current_alerts_are_its_own_and_the_daemons() -> None:
    alerts = alerter()
    at = DAY_START + timedelta(hours=1)
    alerts.alert("critical", "store unavailable", at)
    alerts.alert("warning", "canTrade is false on 150KTC", at, OTHER)
    alerts.alert("critical", "the close keeps failing", at, ACCOUNT)
    shown, _ = alerts.current(10, at, DAY_START, ACCOUNT)
    assert [a["message"] for a in shown] == ["store unavailable", "the close keeps failing"]
    shown, _ = alerts.current(2, at, DAY_START)
    assert [a["message"] for a in shown] == [
        "canTrade is false on 150KTC",
        "the close keeps failing",
    ]


def test_every_alert_is_kept_in_order_also_those_raised_before_the_store_was_ready() -> None:
    alerts = alerter()
    at = DAY_START + timedelta(minutes=1)
    alerts.alert("warning", "restored from the journal with a gap", at, ACCOUNT)
    kept: list[tuple[datetime, str, str, int | None]] = []
    alerts.keep_with(lambda *alert: kept.append(alert))
    alerts.alert("critical", "user hub down for 45s", at + timedelta(seconds=1))
    assert kept == [
        (at, "warning", "restored from the journal with a gap", ACCOUNT),
        (at + timedelta(seconds=1), "critical", "user hub down for 45s", None),
    ]


def test_a_restart_puts_back_the_days_alerts_before_its_own() -> None:
    """A restart made "the close keeps failing" vanish from status and the dashboard,
    though the store kept it: the previous run's alerts come back, older than this run's,
    and are neither kept nor pushed again."""
    alerts = alerter()
    kept: list[tuple[datetime, str, str, int | None]] = []
    at = DAY_START + timedelta(hours=2)
    alerts.alert("warning", "restored from the journal", at + timedelta(minutes=5), ACCOUNT)
    alerts.remember(
        [
            (at, "critical", "the close keeps failing", ACCOUNT),
            (at + timedelta(minutes=1), "warning", "canTrade is false on 150KTC", OTHER),
            (at + timedelta(minutes=2), "critical", "user hub down for 45s", None),
        ]
    )
    alerts.keep_with(lambda *alert: kept.append(alert))
    shown, earlier = alerts.current(10, at + timedelta(minutes=10), DAY_START, ACCOUNT)
    assert [a["message"] for a in shown] == [
        "the close keeps failing",
        "user hub down for 45s",
        "restored from the journal",
    ]
    assert earlier == 0
    assert [message for _, _, message, _ in kept] == ["restored from the journal"]
    everyone, _ = alerts.current(10, at + timedelta(minutes=10), DAY_START)
    assert [a["message"] for a in everyone][:2] == [
        "the close keeps failing",
        "canTrade is false on 150KTC",
    ]
