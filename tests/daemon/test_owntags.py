"""The daemon's own-order tags: made with a per-installation secret, recognised only with it."""

from __future__ import annotations

import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.owntags import SECRET_FILE_NAME, OwnTagError, OwnTags
from simple_risk.engine.facts.orders import OWN_TAG_PREFIX

ACCOUNT = 20100001


def test_the_secret_is_generated_once_owner_only(tmp_path: Path) -> None:
    first = OwnTags.load(tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = OwnTags.load(tmp_path / "data")
    assert again.verify(ACCOUNT, first.new_tag(ACCOUNT))


def test_a_secret_readable_by_others_is_replaced_by_a_new_owner_only_one(tmp_path: Path) -> None:
    """A secret others could read may have been read: whoever holds it makes tags that
    verify, and an order so tagged passes a lockout as the daemon's own. It was made
    owner-only and kept, so a trader who had copied it kept that power; now a new secret
    replaces it (the daemon's orders it placed before are still its own through the journal's
    records of placing them)."""
    before = OwnTags.load(tmp_path)
    path = tmp_path / SECRET_FILE_NAME
    path.chmod(0o644)
    copied = OwnTags(path.read_bytes())
    after = OwnTags.load(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    forged = copied.new_tag(ACCOUNT)
    assert before.verify(ACCOUNT, forged)
    assert not after.verify(ACCOUNT, forged)
    assert OwnTags.load(tmp_path).verify(ACCOUNT, after.new_tag(ACCOUNT))  # kept from now on


def _full_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def test_a_secret_the_full_disk_cut_short_is_not_left_behind(tmp_path: Path) -> None:
    """A daemon whose first start met a full disk created the secret's file and could not
    write it: the empty file stayed, and every start after — the disk long freed — refused
    it as "not a simple-risk secret (0 bytes)", systemd starting the daemon again every two
    seconds with the account unguarded until an admin removed it. The secret is now written
    aside and put in place whole, or not at all."""
    loading = (
        "import pathlib; from simple_risk.daemon.owntags import OwnTags; "
        f"OwnTags.load(pathlib.Path({str(tmp_path)!r}))"
    )
    full = subprocess.run(
        [sys.executable, "-c", loading],
        capture_output=True,
        text=True,
        preexec_fn=_full_disk,
        timeout=60,
        check=False,
    )
    assert full.returncode != 0 and "File too large" in full.stderr, full.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written left
    tags = OwnTags.load(tmp_path)  # space is back
    assert tags.verify(ACCOUNT, tags.new_tag(ACCOUNT))


def test_a_file_that_is_not_a_secret_is_refused_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE_NAME).write_bytes(b"short")
    with pytest.raises(OwnTagError, match="remove it"):
        OwnTags.load(tmp_path)


def test_tags_are_fresh_short_and_verify_only_for_their_account(tmp_path: Path) -> None:
    tags = OwnTags.load(tmp_path)
    made = {tags.new_tag(ACCOUNT) for _ in range(50)}
    assert len(made) == 50
    for tag in made:
        assert tag.startswith(OWN_TAG_PREFIX) and len(tag) <= 30
        assert tags.verify(ACCOUNT, tag)
        assert not tags.verify(ACCOUNT + 1, tag)


def test_another_installations_tags_are_not_ours(tmp_path: Path) -> None:
    ours = OwnTags.load(tmp_path / "ours")
    theirs = OwnTags.load(tmp_path / "theirs")
    assert not ours.verify(ACCOUNT, theirs.new_tag(ACCOUNT))


@given(suffix=st.text(alphabet="0123456789abcdef", min_size=0, max_size=40))
def test_no_guessed_tag_with_the_prefix_verifies(suffix: str) -> None:
    tags = OwnTags(b"k" * 32)
    assert not tags.verify(ACCOUNT, OWN_TAG_PREFIX + suffix)
