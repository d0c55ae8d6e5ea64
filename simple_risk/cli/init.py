"""``simple-risk init DIR``: the files a new user edits, written where they want them.

After ``pip install simple-risk`` nothing on disk is the user's to edit: the shipped ruleset
and the example configuration live inside the installed package. ``init`` copies them out —
the ruleset, a configuration that names it, and an overlay for the account — so the README's
next steps (``rules lint``, ``engine run --check --online``) have files to point at. It never
overwrites a file unless told to, and the overlay (the admin's own limits) only when told so
by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from simple_risk.cli import cli
from simple_risk.cli.numbers import ACCOUNT_ID
from simple_risk.engine.dsl.yamlload import load_document
from simple_risk.resources import data_dir, default_ruleset_path


def _example(name: str) -> str:
    return (data_dir("examples") / name).read_text(encoding="utf-8")


def config_text(account: int, ruleset: str, overlay: str) -> str:
    """The example configuration, guarding ``account`` with ``ruleset`` and its overlay."""
    text = _example("config.yaml")
    text = re.sub(r"(?m)^accounts: \[\d+\]", f"accounts: [{account}]", text, count=1)
    text = re.sub(r"(?m)^# ruleset: \S+(\s+#.*)?$", f"ruleset: {ruleset}", text, count=1)
    text = re.sub(
        r"(?m)^# overlays:.*\n#   \d+: \S+$",
        f"overlays:                          # per account: a file that changes the ruleset\n"
        f"  {account}: {overlay}",
        text,
        count=1,
    )
    return text


def _params_set(overlay_text: str) -> list[str]:
    """The params the overlay sets: a value of the ruleset's own never reaches the account."""
    document, _ = load_document(overlay_text, "overlay")
    data = document.data if document is not None else None
    params = data.get("params") if isinstance(data, dict) else None
    return [str(name) for name in params] if isinstance(params, dict) else []


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--account",
    type=ACCOUNT_ID,
    default=20100001,
    show_default=True,
    help="The TopstepX account id to guard (Account/search lists yours; see --check --online).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite the ruleset and the configuration if they exist (each one changed is kept "
    "as FILE.bak); an existing overlay (the account's own limits) is kept.",
)
@click.option(
    "--force-overlay",
    is_flag=True,
    help="Replace an existing overlay too (the old one is kept as ACCOUNT.yaml.bak).",
)
def init(directory: Path, account: int, force: bool, force_overlay: bool) -> None:
    """Write the shipped ruleset, a configuration and an overlay into DIRECTORY to edit.

    \b
    DIRECTORY/topstep.yaml           the twelve TopstepX rules and their params
    DIRECTORY/overlays/ACCOUNT.yaml  the account's own params (daily_loss_limit,
                                     max_contracts): these win over topstep.yaml
    DIRECTORY/config.yaml            gateway, credentials, accounts, paths

    Then: set PROJECTX_USERNAME and PROJECTX_API_KEY, and run
    `simple-risk engine run --config DIRECTORY/config.yaml --check --online`.

    \b
    Example:
      simple-risk init ~/risk --account 20100001
    """
    # "~/risk" quoted (a space in it) reaches us unexpanded: the home directory, as in the
    # configuration's own paths — never a folder named "~" here
    directory = directory.expanduser()
    overlay = f"overlays/{account}.yaml"
    files = {
        directory / "topstep.yaml": default_ruleset_path().read_text(encoding="utf-8"),
        directory / overlay: _example("overlay.yaml").replace("ACCOUNT", str(account)),
        directory / "config.yaml": config_text(account, "topstep.yaml", overlay),
    }
    overlay_path = directory / overlay
    existing = [path for path in files if path.exists()]
    blocking = [
        path
        for path in existing
        if not ((force or force_overlay) if path == overlay_path else force)
    ]
    if blocking:
        names = ", ".join(str(path) for path in blocking)
        raise click.ClickException(
            f"{names} already exist(s); nothing written (--force overwrites the ruleset and "
            "the configuration, --force-overlay the overlay)"
        )
    # the overlay holds the admin's own limits: --force alone keeps it. Every file replaced
    # with other text is backed up first (the admin's accounts, paths, tokens, edits)
    kept = overlay_path in existing and not force_overlay
    writes = {path: text for path, text in files.items() if not (kept and path == overlay_path)}
    backups: dict[Path, Path] = {}
    try:
        for path, text in writes.items():
            if path in existing:
                old = path.read_bytes()
                if old != text.encode("utf-8"):
                    backup = path.with_name(path.name + ".bak")
                    backup.write_bytes(old)
                    backups[path] = backup
        for path, text in writes.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(
            f"cannot write into {directory}: {exc.strerror or exc}"
        ) from None
    for path in files:
        if path not in writes:
            click.echo(f"kept {path} (the account's own limits; --force-overlay replaces it)")
        elif path in backups:
            click.echo(f"wrote {path} (the one it replaced is in {backups[path]})")
        else:
            click.echo(f"wrote {path}")
    held = [] if kept else _params_set(files[overlay_path])
    if held:
        click.echo(
            f"\n{directory / overlay} sets {', '.join(held)}\n"
            f"for account {account}: change them there (a value in topstep.yaml does not reach\n"
            "the account)"
        )
    click.echo(
        "\nNext:\n"
        f"  simple-risk rules lint {directory / 'topstep.yaml'}\n"
        f"  simple-risk rules lint --base {directory / 'topstep.yaml'} {directory / overlay}\n"
        "  export PROJECTX_USERNAME=… PROJECTX_API_KEY=…\n"
        f"  simple-risk engine run --config {directory / 'config.yaml'} --check --online\n"
        f"  simple-risk engine run --config {directory / 'config.yaml'}"
    )
