"""The ``calendar:`` section: holidays and early closes from the named exchange calendar,
resolved when the ruleset loads, with the ruleset's own lists as overrides."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

from simple_risk import resources
from simple_risk.calendars import FIRST_DAY, LAST_DAY, exchange_days
from simple_risk.engine.dsl import analyse_text, load_ruleset, load_ruleset_text
from simple_risk.engine.model import CalendarSpec

RULES = """
rules:
  - id: daily-loss
    trigger: [trade]
    when: day.realized_pnl <= -500
    then: [flatten]
"""


def calendar_of(section: str) -> CalendarSpec:
    text = "ruleset: t\n" + textwrap.dedent(section) + RULES
    return load_ruleset_text(text, "t.yaml").calendar


def test_the_shipped_ruleset_follows_cme_globex_equity_in_any_year() -> None:
    calendar = load_ruleset(resources.default_ruleset_path()).calendar
    # Christmas and New Year's Day close the exchange …
    assert dt.date(2026, 12, 25) in calendar.holidays
    assert dt.date(2031, 1, 1) in calendar.holidays
    # … Christmas on a Saturday closes it on the Friday before
    assert dt.date(2027, 12, 24) in calendar.holidays
    # Thanksgiving halts at 12:00, the Friday after and Christmas Eve close at 12:15
    assert calendar.early_closes[dt.date(2026, 11, 26)] == dt.time(12, 0)
    assert calendar.early_closes[dt.date(2026, 11, 27)] == dt.time(12, 15)
    assert calendar.early_closes[dt.date(2033, 11, 25)] == dt.time(12, 15)
    assert calendar.early_closes[dt.date(2026, 12, 24)] == dt.time(12, 15)
    # an ordinary weekday is neither
    assert dt.date(2027, 3, 10) not in calendar.holidays
    assert dt.date(2027, 3, 10) not in calendar.early_closes


def test_the_resolved_range_is_fixed_not_a_window_around_today() -> None:
    days = exchange_days("cme_globex_equity", "America/Chicago")
    assert dt.date(2000, 12, 25) in days.holidays  # a Monday
    assert dt.date(2060, 12, 24) in days.holidays  # Christmas 2060 is a Saturday
    assert all(FIRST_DAY <= day <= LAST_DAY for day in days.holidays)
    assert all(day.weekday() < 5 for day in days.holidays)


def test_early_close_times_are_in_the_rulesets_time_zone() -> None:
    chicago = exchange_days("cme_globex_equity", "America/Chicago")
    new_york = exchange_days("cme_globex_equity", "America/New_York")
    assert chicago.early_closes[dt.date(2026, 12, 24)] == dt.time(12, 15)
    assert new_york.early_closes[dt.date(2026, 12, 24)] == dt.time(13, 15)


def test_without_an_exchange_only_the_rulesets_own_lists_apply() -> None:
    for section in (
        "calendar:\n  holidays: [2026-12-25]\n",
        "calendar:\n  exchange: none\n  holidays: [2026-12-25]\n",
    ):
        calendar = calendar_of(section)
        assert calendar.holidays == {dt.date(2026, 12, 25)}
        assert calendar.early_closes == {}


def test_the_rulesets_lists_add_override_and_take_away() -> None:
    calendar = calendar_of(
        """
        calendar:
          exchange: cme_globex_equity
          holidays: [2026-12-31]
          early_closes: {2026-12-24: "11:00", 2026-12-30: "13:00"}
          regular_days: [2026-11-27, 2027-01-01]
        """
    )
    assert dt.date(2026, 12, 31) in calendar.holidays  # added
    assert dt.date(2026, 12, 25) in calendar.holidays  # the exchange's, kept
    assert dt.date(2027, 1, 1) not in calendar.holidays  # taken away
    assert dt.date(2026, 11, 27) not in calendar.early_closes  # taken away
    assert calendar.early_closes[dt.date(2026, 12, 24)] == dt.time(11, 0)  # overridden
    assert calendar.early_closes[dt.date(2026, 12, 30)] == dt.time(13, 0)  # added
    assert calendar.early_closes[dt.date(2026, 11, 26)] == dt.time(12, 0)  # the exchange's


def test_energy_and_metals_close_on_good_friday_while_equities_close_early() -> None:
    energy = calendar_of("calendar:\n  exchange: cme_globex_energy_metals\n")
    equity = calendar_of("calendar:\n  exchange: cme_globex_equity\n")
    good_friday = dt.date(2027, 3, 26)
    assert good_friday in energy.holidays
    assert good_friday not in equity.holidays
    assert equity.early_closes[good_friday] == dt.time(8, 15)


def test_an_unknown_exchange_is_a_located_problem_with_a_suggestion() -> None:
    text = "ruleset: t\ncalendar:\n  exchange: cme_globex_equty\n" + RULES
    problems = analyse_text(text, "t.yaml").problems
    assert [(p.line, p.column, p.severity) for p in problems] == [(3, 13, "error")]
    assert 'did you mean "cme_globex_equity"' in str(problems[0])


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def test_the_command_line_help_never_imports_pandas() -> None:
    modules = _modules_after(
        "import sys\nfrom simple_risk.cli import main\nsys.argv = ['simple-risk', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    assert "simple_risk.cli" in modules  # the command line ran (its commands load lazily)
    assert "pandas" not in modules


def test_a_ruleset_without_an_exchange_loads_without_pandas() -> None:
    modules = _modules_after(
        "from simple_risk.engine.dsl import load_ruleset_text\n"
        f"load_ruleset_text({'ruleset: t' + RULES!r}, 't.yaml')\n"
    )
    assert "simple_risk.engine.dsl.compiler" in modules
    assert "pandas" not in modules


def test_lint_warns_about_overrides_that_change_nothing() -> None:
    with_exchange = """
        calendar:
          exchange: cme_globex_equity
          holidays: [2026-12-25, 2026-12-31]
          regular_days: [2026-11-27, 2026-12-28]
        """
    without = "calendar:\n  regular_days: [2026-11-27]\n"
    for section, expected in (
        (with_exchange, [(5, 14), (6, 30)]),
        (without, [(3, 18)]),
    ):
        text = "ruleset: t\n" + textwrap.dedent(section) + RULES
        problems = analyse_text(text, "t.yaml").problems
        assert [(p.line, p.column) for p in problems] == expected
        assert {(p.check, p.severity) for p in problems} == {("calendar-override", "warning")}
