"""Progress output goes to stderr only, and only when it is a terminal and enabled."""

from __future__ import annotations

import io

import pytest

from mcumixq.cli import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress.track(range(3), "x", total=3)) == [0, 1, 2]
    with progress.status("working"):
        pass
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


@pytest.mark.parametrize("enabled", [True, False])
def test_terminal_shows_progress_unless_disabled(
    monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    fake = _Tty()
    monkeypatch.setattr(progress.sys, "stderr", fake)
    assert list(progress.track(range(3), "counting", total=3, enabled=enabled)) == [0, 1, 2]
    with progress.status("building", enabled=enabled):
        pass
    assert ("counting" in fake.getvalue()) is enabled


def test_tracked_loader_repeats_every_pass_and_keeps_the_sampler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Loader(list):
        sampler = "the sampler"

    fake = _Tty()
    monkeypatch.setattr(progress.sys, "stderr", fake)
    tracked = progress.TrackedLoader(Loader([1, 2, 3]), "search")
    assert list(tracked) == [1, 2, 3] and list(tracked) == [1, 2, 3]  # a second epoch
    assert len(tracked) == 3 and tracked.sampler == "the sampler"
    assert "search" in fake.getvalue()
