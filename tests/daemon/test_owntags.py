"""The daemon's own-order tags: made with a per-installation secret, recognised only with it."""

from __future__ import annotations

import stat
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
