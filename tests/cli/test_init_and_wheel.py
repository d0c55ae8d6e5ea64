"""``simple-risk init`` and the wheel: a user who installed the package has files to edit.

The wheel test builds the real wheel, unpacks it, and runs the README's first steps from it
(with this environment's dependencies), so shipped data that only a checkout has is caught.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk import __version__
from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.config import load_config, load_rulesets

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-1", "HOME": "/home/alice"}


def test_init_writes_a_ruleset_a_config_and_an_overlay_that_load(tmp_path: Path) -> None:
    target = tmp_path / "risk"
    result = CliRunner().invoke(cli, ["init", str(target), "--account", "20100007"])
    assert result.exit_code == 0, result.output
    assert (target / "topstep.yaml").is_file()
    assert (target / "overlays" / "20100007.yaml").is_file()
    assert "--check --online" in result.output
    config = load_config(target / "config.yaml", ENV)
    assert config.accounts == (20100007,)
    assert config.ruleset_path == target / "topstep.yaml"
    assert config.overlays == {20100007: target / "overlays" / "20100007.yaml"}
    rulesets = load_rulesets(config)  # the overlay compiles over the copied ruleset
    assert set(rulesets) == {20100007}


def test_init_says_which_params_the_overlay_sets_over_the_ruleset(tmp_path: Path) -> None:
    """The help said "topstep.yaml (edit params here …)", but the overlay init writes sets
    daily_loss_limit and max_contracts: a limit lowered in topstep.yaml never reached the
    account. init names the params the overlay holds, and where to change them."""
    target = tmp_path / "risk"
    result = CliRunner().invoke(cli, ["init", str(target), "--account", "20100007"])
    assert result.exit_code == 0, result.output
    overlay = target / "overlays" / "20100007.yaml"
    assert (
        f"{overlay} sets daily_loss_limit, max_contracts for account 20100007: "
        "change them there (a value in topstep.yaml does not reach the account)"
    ) in " ".join(result.output.split())
    help_text = CliRunner().invoke(cli, ["init", "--help"]).output
    assert "edit params here" not in help_text


def test_init_into_a_quoted_tilde_path_writes_into_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`simple-risk init "~/my risk"` (quoted for the space) wrote into a folder named "~"
    in the current directory, and said "wrote ~/my risk/config.yaml": the admin then found
    no such file in their home — and a folder named ~ is one `rm -rf ~` away from the home
    itself. "~" is the home directory, as in the configuration's own paths."""
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, ["init", "~/my risk"], env={"HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert (home / "my risk" / "config.yaml").is_file()
    assert not (elsewhere / "~").exists()
    assert f"wrote {home / 'my risk' / 'config.yaml'}" in result.output


def test_init_never_overwrites_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "risk"
    assert CliRunner().invoke(cli, ["init", str(target)]).exit_code == 0
    (target / "topstep.yaml").write_text("# mine\n", encoding="utf-8")
    again = CliRunner().invoke(cli, ["init", str(target)])
    assert again.exit_code == 1
    assert "already exist" in again.output and "nothing written" in again.output
    assert (target / "topstep.yaml").read_text(encoding="utf-8") == "# mine\n"
    forced = CliRunner().invoke(cli, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    assert (target / "topstep.yaml").read_text(encoding="utf-8") != "# mine\n"


def test_init_force_keeps_the_admins_overlay_unless_told_to_replace_it(tmp_path: Path) -> None:
    """`init --force` (to get the shipped ruleset back) also overwrote the account's overlay:
    the admin's own daily_loss_limit and max_contracts silently went back to the example's,
    and the next start guarded the account with limits nobody chose. --force keeps an existing
    overlay and says so; --force-overlay replaces it, after a backup it names."""
    target = tmp_path / "risk"
    assert CliRunner().invoke(cli, ["init", str(target)]).exit_code == 0
    overlay = target / "overlays" / "20100001.yaml"
    mine = "params:\n  daily_loss_limit: 350\n"
    overlay.write_text(mine, encoding="utf-8")
    (target / "topstep.yaml").write_text("# mine\n", encoding="utf-8")
    forced = CliRunner().invoke(cli, ["init", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (target / "topstep.yaml").read_text(encoding="utf-8") != "# mine\n"
    assert overlay.read_text(encoding="utf-8") == mine
    assert f"kept {overlay} (the account's own limits; --force-overlay replaces it)" in (
        forced.output
    )
    assert f"wrote {overlay}" not in forced.output
    replaced = CliRunner().invoke(cli, ["init", str(target), "--force", "--force-overlay"])
    assert replaced.exit_code == 0, replaced.output
    assert overlay.read_text(encoding="utf-8") != mine
    backup = overlay.with_name("20100001.yaml.bak")
    assert backup.read_text(encoding="utf-8") == mine
    assert f"wrote {overlay} (the one it replaced is in {backup})" in replaced.output


def test_init_force_backs_up_the_configuration_and_ruleset_it_replaces(tmp_path: Path) -> None:
    """`init DIR --account 20100002 --force`, run to add a second account, rewrote config.yaml
    with that account alone: the first account's guard, the notify tokens and the paths the
    admin had set were gone without a word, and the next restart left the first account
    unguarded. Each file --force replaces with other text is kept as FILE.bak, and said."""
    target = tmp_path / "risk"
    assert CliRunner().invoke(cli, ["init", str(target)]).exit_code == 0
    config = target / "config.yaml"
    mine = config.read_text(encoding="utf-8").replace(
        "accounts: [20100001]", "accounts: [20100001, 20100003]"
    )
    config.write_text(mine, encoding="utf-8")
    forced = CliRunner().invoke(cli, ["init", str(target), "--account", "20100002", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "accounts: [20100002]" in config.read_text(encoding="utf-8")
    backup = target / "config.yaml.bak"
    assert backup.read_text(encoding="utf-8") == mine
    assert f"wrote {config} (the one it replaced is in {backup})" in forced.output
    assert f"wrote {target / 'topstep.yaml'}\n" in forced.output  # the same text: no backup
    assert not (target / "topstep.yaml.bak").exists()


@pytest.mark.parametrize("account", ["0", "-5"])
def test_an_account_id_that_cannot_be_one_is_a_usage_error_and_writes_nothing(
    tmp_path: Path, account: str
) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "d"), "--account", account])
    assert result.exit_code == 2
    assert "--account" in result.output
    assert not (tmp_path / "d").exists()


def test_init_into_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "cannot write into" in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("simple_risk-*.whl")
    target = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _from_wheel(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), **ENV}
    return subprocess.run(
        [sys.executable, "-m", "simple_risk", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wheel_carries_its_data_licence_and_metadata(unpacked_wheel: Path) -> None:
    data = unpacked_wheel / "simple_risk" / "_data"
    for shipped in ("rulesets/topstep.yaml", "schemas/ruleset.schema.json", "examples/config.yaml"):
        assert (data / shipped).is_file(), shipped
    [info] = unpacked_wheel.glob("simple_risk-*.dist-info")
    assert (info / "licenses" / "LICENSE").is_file()
    metadata = (info / "METADATA").read_text(encoding="utf-8")
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Topic :: Office/Business :: Financial :: Investment" in metadata


def test_the_readme_first_steps_work_from_the_wheel(unpacked_wheel: Path, tmp_path: Path) -> None:
    version = _from_wheel(unpacked_wheel, tmp_path, "--version")
    assert version.returncode == 0 and __version__ in version.stdout
    init = _from_wheel(unpacked_wheel, tmp_path, "init", "risk")
    assert init.returncode == 0, init.stderr
    lint = _from_wheel(unpacked_wheel, tmp_path, "rules", "lint", "risk/topstep.yaml")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "SUCCESS" in lint.stdout
    check = _from_wheel(
        unpacked_wheel, tmp_path, "engine", "run", "--config", "risk/config.yaml", "--check"
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # it really ran from the wheel, not from this checkout
    probe = subprocess.run(
        [sys.executable, "-c", "import simple_risk; print(simple_risk.__file__)"],
        env={**os.environ, "PYTHONPATH": str(unpacked_wheel)},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert probe.stdout.strip().startswith(str(unpacked_wheel))
