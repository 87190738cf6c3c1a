"""Shared helpers for the command-line tests: run ``rnnkit`` in-process and check user errors."""

from __future__ import annotations

from rnnkit.cli.main import main


def run(capsys, *argv):
    """Run ``rnnkit *argv`` in-process; returns (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def user_error(code, err, *needles):
    """A user mistake: exit code 1, one ``rnnkit: error:`` line naming every needle, no traceback."""
    assert code == 1, err
    assert "Traceback" not in err
    assert err.startswith("rnnkit: error: "), err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
