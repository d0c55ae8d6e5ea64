"""The rich renderings of status, explain, history, monitor and reload answers, from JSON
fixtures shaped as docs/status-protocol.md shows them."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from rich.console import Console, RenderableType

from simple_risk.cli import (
    account_tables,
    admin_views,
    explain_screen,
    formatting,
    status_screen,
    timeline,
)
from simple_risk.daemon.control.history import history_json
from simple_risk.daemon.control.protocol import encode
from simple_risk.store.records import Lockout
from simple_risk.store.rows import lockout_item

from . import fixtures
from .fixtures import NOW


def text_of(renderable: RenderableType, width: int = 200) -> str:
    console = Console(
        file=io.StringIO(), width=width, color_system=None, record=True, highlight=False
    )
    console.print(renderable)
    return console.export_text()


def styles_of(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=200, color_system="truecolor", force_terminal=True)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def test_an_alert_about_one_account_names_it_once() -> None:
    """A rule's own alert words may not say whose it is: with several accounts the line
    names the account; one whose words already name it is not named twice."""
    result = fixtures.status()
    result["daemon"]["alerts"] = [
        {
            "at": NOW.isoformat(),
            "level": "warning",
            "message": "half the daily loss is gone",
            "account": 20100002,
        },
        {
            "at": NOW.isoformat(),
            "level": "critical",
            "message": "account 20100001: lease lost",
            "account": 20100001,
        },
    ]
    out = text_of(status_screen.status_view(result, NOW))
    assert "account 20100002: half the daily loss is gone" in out
    assert "account 20100001: lease lost" in out
    assert "account 20100001: account 20100001" not in out


def test_alerts_older_than_the_trading_day_are_counted_with_where_to_read_them() -> None:
    result = fixtures.status()
    result["daemon"]["alerts"] = []
    result["daemon"]["alerts_earlier"] = 3
    out = text_of(status_screen.status_view(result, NOW))
    assert "3 earlier alerts: simple-risk engine history --kind alert" in out
    assert "ALERT" not in out


def test_a_position_priced_from_rest_bars_says_so_beside_its_price() -> None:
    """While a contract's quotes are missing the daemon prices it from REST bars (the last
    trade, not the bid): the price the open P&L rests on is not a live quote, and reads so."""
    result = fixtures.status()
    out = text_of(status_screen.status_view(result, NOW))
    assert "(bars)" not in out
    result["accounts"][0]["positions"][0]["priced_from"] = "bars"
    out = text_of(status_screen.status_view(result, NOW))
    assert "21003.00 (bars)" in out


def test_status_shows_every_section_of_an_account() -> None:
    out = text_of(status_screen.status_view(fixtures.status(), NOW))
    assert "daemon pid 4242" in out and "up 2h 05m" in out and "events 18211" in out
    assert "ALERT" in out and "enforcement failing: flatten" in out
    assert "LIVE (user hub connected, market hub connected)" in out
    assert "balance $50,210.00" in out
    # positions: unprotected for 72 s, protected with its stop, unknown price as a dash
    assert "NO for 1m 12s" in out
    assert "yes (stop 6020.00)" in out
    assert "21010.25" in out and "$-29.00" in out
    assert "2 contracts" in out and "1 contract " in out
    # working orders
    assert "9001" in out and "stop" in out
    # P&L and limits with % used
    assert "Net P&L today: $-149.00 (realized $-120.00, open $-29.00)" in out
    assert "3 trades" in out and "Contracts open: 3 lots of 5 (60%)" in out
    assert "Daily loss" in out and " 29.8%" in out and " 82.8%" in out
    assert "Warn 80" in out  # no label: the rule id in words
    assert "day.net_pnl" not in out and "params." not in out
    # lockouts: countdown from ends_at, while: lockouts say so
    assert "RTY is blocked" in out and "38m 32s" in out
    assert "when the condition clears" in out and "while it holds" in out
    assert "calendar.in_news_window" not in out
    # pending for: timer, last firings in plain words, enforcement in progress
    assert "no-stop-grace" in out and "4.2s" in out
    assert "Order cancelled: max-contracts-per-instrument — MNQ limit 2" in out
    assert "PositionClosed" in out and "awaiting" in out
    # an account-wide lockout: the title and the first line say the same
    assert "account 20100001 — LOCKED while the condition holds" in out
    assert "50K-EVAL-1 · LOCKED while the condition holds" in out
    assert "can trade" not in out[: out.index("account 20100002")]


def test_status_of_a_quiet_account_says_none_instead_of_empty_tables() -> None:
    out = text_of(status_screen.status_view(fixtures.status(), NOW))
    second = out[out.index("account 20100002") :]
    assert "NOT LIVE" in second and "user hub reconnecting" in second
    assert "CANNOT TRADE" in second
    for line in ("Positions: flat", "Working orders: none", "Lockouts: none"):
        assert line in second
    assert "Rules about to act: none" in second and "Last firings: none" in second


def test_countdowns_tick_from_the_local_clock_not_the_servers_remaining() -> None:
    later = NOW + timedelta(seconds=2)
    out = text_of(status_screen.status_view(fixtures.status(), later))
    assert "38m 30s" in out  # 2312.4 - 2
    assert "2.2s" in out  # the for: timer
    done = text_of(status_screen.status_view(fixtures.status(), NOW + timedelta(seconds=10)))
    assert "0.0s" in done  # never negative


def test_limits_are_coloured_green_yellow_red_by_percent_used() -> None:
    assert formatting.used_style(29.8) == "green"
    assert formatting.used_style(50) == "yellow"
    assert formatting.used_style(79.9) == "yellow"
    assert formatting.used_style(80) == "bold red"
    assert formatting.used_style(None) == "dim"
    bar = formatting.usage_bar(29.8)
    assert bar.plain == "███░░░░░░░  29.8%"
    assert formatting.usage_bar(150).plain.startswith("██████████")
    assert formatting.usage_bar(None).plain == "—"
    # a loss limit is negative: a fresh day's $0.00 of it is 0/-500, which the daemon sends as -0.0
    assert formatting.usage_bar(-0.0).plain == "░░░░░░░░░░   0.0%"
    # a winning day: +$108.08 against the -$500 limit is sent as -21.6; it uses none of it
    assert formatting.usage_bar(-21.6).plain == "░░░░░░░░░░   0.0%"
    assert formatting.used_style(-21.6) == "green"


def test_a_limit_without_a_unit_is_not_called_trades_for_the_count_in_account() -> None:
    status = fixtures.status()
    status["accounts"][0]["limits"] = [
        {
            "rule": "session-block-outside",
            "label": "Trading hours",
            "unit": None,
            "expression": "account.working_orders > 0",
            "fact": "account.working_orders",
            "value": 2,
            "limit": 0,
            "used_pct": None,
        },
        {
            "rule": "trade-frequency-minute",
            "unit": None,
            "expression": "trades.count(within=params.window) > params.max_trades",
            "fact": "trades.count(within=params.window)",
            "value": 1,
            "limit": 3,
            "used_pct": 33.3,
        },
    ]
    out = text_of(status_screen.status_view(status, NOW))
    hours = next(line for line in out.splitlines() if "Trading hours" in line)
    assert "trade" not in hours.replace("Trading", ""), hours
    assert re.search(r"Trading hours\s+2\s+0\s", hours), hours
    minute = next(line for line in out.splitlines() if "Trade frequency minute" in line)
    assert "1 trade " in minute and "3 trades" in minute, minute


def test_money_is_red_below_zero_and_green_above() -> None:
    assert formatting.money("-29.00").style == "red"
    assert formatting.money("12.50").style == "green"
    assert formatting.money("0").style == ""
    assert formatting.money(None).plain == "—"


def test_severity_colours_appear_on_a_terminal() -> None:
    coloured = styles_of(
        account_tables.firings_table(fixtures.status()["accounts"][0]["firings"], NOW)
    )
    assert "\x1b[" in coloured
    assert formatting.severity_style("critical") == "bold red"
    assert formatting.severity_style("warning") == "yellow"
    assert formatting.severity_style("info") == "blue"


def test_explain_prints_each_comparison_with_the_values_it_saw() -> None:
    out = text_of(explain_screen.explain_view(fixtures.explain(), NOW))
    assert "rule daily-loss-limit  critical  enabled  account 20100001" in out
    assert "rulesets/topstep.yaml:41:11" in out
    assert "when:     day.net_pnl <= -params.daily_loss_limit" in out
    assert "for:      —" in out and "triggers: trade, reconcile" in out
    assert "last firing 10:13:02 (2m 00s ago)" in out
    assert "daily loss -512.00 reached the limit 500" in out
    assert "day.net_pnl = -512.00" in out
    assert "intent: NoWorkingOrders(20100001)" in out
    assert "day.net_pnl = -512.00  <=  -params.daily_loss_limit = -500  → true" in out
    assert "state firing" in out
    assert "unmet intents" in out and "Flat(20100001)" in out


def test_explain_of_a_pending_rule_shows_the_time_left_and_unknown_values() -> None:
    out = text_of(explain_screen.explain_view(fixtures.explain_pending(), NOW))
    assert "last firing: never fired" in out
    assert "each:     position" in out and "for:      30s" in out
    assert "item position:CON.F.US.MNQ.Z26: true  state pending" in out
    assert "fires in 4.2s" in out
    assert "position.size = 2  >  0  → true" in out
    assert "position.unrealized_pnl = unknown  <  0  → unknown" in out


def test_history_is_a_table_of_at_kind_account_rule_summary() -> None:
    out = text_of(timeline.history_table(fixtures.history()["items"], NOW))
    for column in ("At", "Kind", "Account", "Rule", "Summary"):
        assert column in out
    assert "sell 1 MNQ @ 21000.00, P&L -40.00" in out
    assert "09:15:02" in out and "alice reload: ok" in out
    assert text_of(timeline.history_table([], NOW)).strip() == "nothing in this period"


def test_history_says_a_while_lockout_holds_while_its_condition_does() -> None:
    """A ``while:`` lockout is stored with its rule's expression; the trader reads what
    engine status and the dashboard say ("while the condition holds"), never the
    expression (``known(lock.symbol) and …``). A timed lockout keeps its end in their zone."""
    now = NOW.astimezone(ZoneInfo("America/Chicago"))
    start = now - timedelta(minutes=5)
    blocked = Lockout(
        id=1,
        account=20100001,
        scope="symbol",
        symbol="RTY",
        rule="symbol-blocks",
        reason="RTY is blocked: ask your admin",
        firing_id=7,
        start=start,
        end=None,
        while_expr="known(lock.symbol) and (lock.symbol in blocked_symbols or x == '15:55')",
        bindings={},
        cleared_at=None,
        cleared_by=None,
        clear_reason=None,
    )
    timed = dataclasses.replace(blocked, id=2, end=now + timedelta(minutes=5), while_expr=None)
    # as the daemon answers it, over the socket
    items = json.loads(encode(history_json([lockout_item(blocked), lockout_item(timed)])))
    out = text_of(timeline.history_table(items, now), width=300)
    assert "RTY locked while the condition holds: RTY is blocked: ask your admin" in out, out
    assert "known(" not in out and "blocked_symbols" not in out
    assert "RTY locked until 10:20 CST: RTY is blocked: ask your admin" in out, out


def test_monitor_lines_say_what_happened_in_plain_words() -> None:
    lines = [timeline.monitor_line(m, fixtures.CHICAGO).plain for m in fixtures.monitor_messages()]
    assert lines[0].startswith("10:15:02  20100001  event")
    assert "Filled: buy 3 MNQ @ 21010.25" in lines[0]
    assert "firing" in lines[1] and "cooldown 5 min" in lines[1]
    assert "alert" in lines[3] and "enforcement failing" in lines[3]
    assert "7 messages skipped" in lines[4]


def test_monitor_colour_follows_severity() -> None:
    messages = fixtures.monitor_messages()
    assert timeline.monitor_severity(messages[1]) == "warning"
    assert timeline.monitor_severity(messages[3]) == "critical"
    firing = timeline.monitor_line(messages[1])
    assert any(span.style == "yellow" for span in firing.spans)
    alert = timeline.monitor_line(messages[3])
    assert any(span.style == "bold red" for span in alert.spans)
    assert timeline.monitor_severity({"type": "dropped"}) == "warning"


def test_reload_changes_are_listed_per_account() -> None:
    lines = admin_views.changes_lines(fixtures.changes())
    assert lines == [
        "account 20100001: added weekly-loss; changed daily-loss-limit; disabled news-window; "
        "param daily_loss_limit 500 → 400"
    ]
    assert admin_views.changes_lines({}) == ["no changes"]
    assert admin_views.changes_lines({"1": {"added": [], "params": {}}}) == ["no changes"]


def test_a_reload_that_takes_mandatory_off_a_rule_says_so() -> None:
    """Only `mandatory: true` taken off the daily loss rule: the reload printed "no changes",
    and the next one could disable it."""
    dropped = {"20100001": ["daily-realized-loss"]}
    assert admin_views.mandatory_lines(dropped) == [
        "account 20100001: daily-realized-loss is no longer mandatory (a reload may now disable it)"
    ]
    assert admin_views.mandatory_lines({}) == []
    assert admin_views.mandatory_lines(None) == []  # a daemon from before the key


def test_a_reload_says_which_params_an_account_overlay_keeps_at_its_own_value() -> None:
    """A limit lowered in the ruleset does not reach an account whose overlay sets it; the
    reload says so under its changes (with "no changes", the admin thought it applied)."""
    held = {"20100001": {"daily_loss_limit": [400, 500], "max_contracts": [5, 3]}}
    assert admin_views.overlay_lines(held) == [
        "account 20100001: its overlay keeps daily_loss_limit at 500 (the ruleset: 400)",
        "account 20100001: its overlay keeps max_contracts at 3 (the ruleset: 5)",
    ]
    assert admin_views.overlay_lines({}) == []
    assert admin_views.overlay_lines(None) == []  # a daemon from before the key


def test_a_located_problem_reads_like_rules_lint() -> None:
    problem = {
        "file": "topstep.yaml",
        "line": 12,
        "column": 9,
        "rule": "daily-loss-limit",
        "message": 'unknown fact "day.nett_pnl"',
        "hint": 'did you mean "day.net_pnl"?',
        "check": "unknown-fact",
    }
    assert formatting.format_problem(problem) == (
        'topstep.yaml:12:9: rule "daily-loss-limit": unknown fact "day.nett_pnl" '
        '(did you mean "day.net_pnl"?)'
    )
    assert formatting.format_problem({"message": "a mandatory rule"}) == "a mandatory rule"


def test_durations_read_naturally() -> None:
    assert formatting.format_duration(4.24) == "4.2s"
    assert formatting.format_duration(42) == "42s"
    assert formatting.format_duration(2312.4) == "38m 32s"
    assert formatting.format_duration(7502) == "2h 05m"
    assert formatting.format_duration(90000) == "1d 01h"
    assert formatting.format_duration(-3) == "0.0s"
    assert formatting.format_duration(None) == "—"


def test_hello_view_shows_pid_uptime_accounts_and_socket() -> None:
    hello = {
        "version": 1,
        "pid": 4242,
        "started_at": fixtures.at(-65),
        "now": fixtures.at(0),
        "accounts": [20100001, 20100002],
        "ruleset": {"name": "topstep", "path": "/etc/simple-risk/topstep.yaml"},
        "admin_password_set": True,
        "socket": "/run/simple-risk/status.sock",
    }
    out = text_of(admin_views.hello_view(hello, NOW))
    assert "running" in out and "4242" in out and "1m 05s" in out
    assert "20100001, 20100002" in out and "/run/simple-risk/status.sock" in out
    assert "topstep (/etc/simple-risk/topstep.yaml)" in out


def test_money_never_shows_a_tail_of_zeros() -> None:
    assert formatting.money_text("-0.500000000") == "-0.50"
    assert formatting.money_text("49998.260000000") == "49998.26"
    assert formatting.money_text("-0.125") == "-0.125"
    assert formatting.money_text("-0.1250000") == "-0.125"
    assert formatting.money_text("21000") == "21000"
    assert formatting.money_text("-1.12") == "-1.12"
    assert formatting.money_text(None) == "—"


def test_explain_of_a_condition_without_comparison_shows_the_values() -> None:
    explained = fixtures.explain_pending()
    explained["mandatory"] = True
    explained["for"] = 3.0
    explained["evaluations"][0]["comparisons"] = []
    explained["evaluations"][0]["values"] = {"position.protected": False}
    out = text_of(explain_screen.explain_view(explained, NOW))
    assert "enabled  mandatory" in out
    assert "for:      3s" in out
    assert "    position.protected = false" in out


def test_times_show_in_the_viewers_time_zone() -> None:
    utc_stamp = "2026-11-24T16:15:02+00:00"
    assert formatting.clock(utc_stamp, NOW) == "10:15:02"
    assert formatting.clock(utc_stamp) == "16:15:02"
    assert formatting.clock("2026-11-23T16:15:02+00:00", NOW) == "2026-11-23 10:15:02"
    message = {"type": "event", "at": utc_stamp, "account": 1, "text": "x"}
    assert timeline.monitor_line(message, fixtures.CHICAGO).plain.startswith("10:15:02")


def test_a_store_outage_is_said_in_red_in_the_daemon_line() -> None:
    status = fixtures.status()
    status["daemon"]["store"] = {"state": "unavailable", "for_seconds": 75.0, "held": 312}
    out = text_of(status_screen.status_view(status, NOW))
    assert "store UNAVAILABLE for 1m 15s (312 writes held) — enforcing from memory" in out
    status["daemon"]["store"] = {"state": "ok"}
    assert "UNAVAILABLE" not in text_of(status_screen.status_view(status, NOW))


def test_a_degraded_account_says_so_in_red_on_its_connection_line() -> None:
    status = fixtures.status()
    account = status["accounts"][0]
    account["connection"] = {**account["connection"], "degraded": ["engine", "reconcile-20100001"]}
    view = status_screen.status_view(status, NOW)
    out = text_of(view)
    first = out[: out.index("account 20100002")]
    assert "LIVE (user hub connected" in first
    assert "DEGRADED (engine, reconcile-20100001 failing)" in first
    assert "DEGRADED" not in out[out.index("account 20100002") :]
    line = status_screen.connection_line(account, NOW)
    assert any(
        "red" in str(span.style) and "DEGRADED" in line.plain[span.start : span.end]
        for span in line.spans
    )


def test_an_account_not_yet_reconciled_says_its_tables_are_unconfirmed() -> None:
    status = fixtures.status()
    account = status["accounts"][0]
    account["connection"] = {**account["connection"], "live": False}
    other = status["accounts"][1]
    other["connection"] = {**(other.get("connection") or {}), "live": True}
    out = text_of(status_screen.status_view(status, NOW))
    first = out[: out.index("account 20100002")]
    assert "NOT LIVE" in first
    assert "Not yet confirmed with the gateway" in first
    assert "nothing is sent for this account" in first
    assert "Not yet confirmed" not in out[out.index("account 20100002") :]


def test_derived_facts_read_as_what_the_rules_remember() -> None:
    status = fixtures.status()
    status["accounts"][0]["derived"] = [
        {
            "name": "worst_open_pnl",
            "description": "The lowest open P&L of the position since it opened.",
            "item": "CON.F.US.EP.H27",
            "ticker": "ES",
            "value": "-312.50",
            "error": None,
        },
        {"name": "most_lots", "description": "", "item": None, "ticker": None, "value": None},
        {"name": "broken", "description": "", "item": None, "ticker": None, "error": "x / 0"},
    ]
    out = text_of(status_screen.status_view(status, NOW))
    assert "What the rules remember" in out
    assert re.search(r"The lowest open P&L of the position since it opened\.\s+ES\s+-312\.5", out)
    assert re.search(r"most_lots\s+account\s+not known yet", out)
    assert "cannot be computed: x / 0" in out
    status["accounts"][0]["derived"] = []
    assert "What the rules remember" not in text_of(status_screen.status_view(status, NOW))


def _account_lock(rule: str, kind: str, ends_in: float | None) -> dict[str, object]:
    return {
        "rule": rule,
        "scope": "account",
        "symbol": None,
        "kind": kind,
        "reason": rule,
        "set_at": fixtures.at(-1),
        "ends_at": fixtures.at(ends_in) if ends_in is not None else None,
        "while": None if ends_in is not None else "calendar.in_news_window",
        "remaining_s": ends_in,
    }


def test_the_account_is_locked_until_the_last_of_its_lockouts_ends() -> None:
    """A losing trade that breaks the daily loss limit starts a 5-minute cooldown and locks the
    account until the day ends: the trader may trade again only when the last one ends."""
    status = fixtures.status()
    account = status["accounts"][0]
    account["lockouts"] = [
        _account_lock("cooldown-after-loss-1", "cooldown", 300),  # 10:20 CST
        _account_lock("daily-realized-loss", "lock", 6.75 * 3600),  # 17:00 CST
        _account_lock("cooldown-after-loss-3", "cooldown", 1800),  # 10:45 CST
    ]
    out = text_of(status_screen.status_view(status, NOW))
    first = out[: out.index("account 20100002")]
    assert "account 20100001 — LOCKED until 17:00 UTC-06:00" in first
    assert "50K-EVAL-1 · LOCKED until 17:00 UTC-06:00" in first
    assert "COOLING DOWN until" not in first
    # a while: lockout as well: it may outlast the end of the timed ones
    account["lockouts"].append(_account_lock("news-window", "lock", None))
    state, _ = status_screen.trading_state(account, NOW)
    assert state == "LOCKED until 17:00 UTC-06:00, and while the condition holds"


def _column(out: str, header: str, following: str) -> str:
    """The text of one table column, its cell lines joined: what a reader gets from it."""
    lines = out.splitlines()
    top = next(i for i, line in enumerate(lines) if header in line and following in line)
    start, end = lines[top].index(header), lines[top].index(following)
    return "".join(line[start:end].strip() for line in lines[top + 2 :] if len(line) > start)


def test_an_80_column_terminal_shows_every_rule_name_whole() -> None:
    """Three cooldowns and the daily loss lock, in a standard 80-column terminal (or a
    narrower one beside the charts): no name is cut to ``cooldown-aft…``, which would leave
    three lockouts that read alike."""
    rules = ["cooldown-after-loss-1", "cooldown-after-loss-2", "daily-realized-loss"]
    locks = [
        {**_account_lock(rule, "cooldown", 300 * (index + 1)), "reason": "Order 4100000010 lost"}
        for index, rule in enumerate(rules)
    ]
    for width in (80, 66):
        out = text_of(account_tables.lockouts_table(locks, NOW), width=width)
        assert "…" not in out, out
        assert _column(out, "By rule", "Reason") == "".join(rules), out


def test_an_account_whose_lease_was_lost_reads_not_enforced() -> None:
    """Another daemon took the account's lease: this daemon enforces nothing for it
    (docs/daemon.md, Leases), so its line must not say ENFORCING."""
    status = fixtures.status()
    account = status["accounts"][0]
    account["connection"] = {**account["connection"], "live": False, "lease": "lost"}
    out = text_of(status_screen.status_view(status, NOW))
    first = out[: out.index("account 20100002")]
    assert "ENFORCING" not in first
    assert "NOT ENFORCED (lease lost: another daemon holds the account" in first
    line = status_screen.connection_line(account, NOW)
    assert any(
        "red" in str(span.style) and "NOT ENFORCED" in line.plain[span.start : span.end]
        for span in line.spans
    )
