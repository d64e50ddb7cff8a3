"""``python -m channels_conformance --impl NAME [pytest options]``: the conformance suite, installed.

``NAME`` is the implementation under test: a dotted module name importable
from the current directory, or a path to a ``.py`` file, that defines
``Channel`` and ``StreamChannel``; an adapter module gives another shape of
API those names (``channels_conformance.adapters.sav_channels_05``).
``--backend asyncio`` or ``--backend trio`` runs the checks of one backend
alone (by default, every backend the implementation runs on). Other
arguments go to pytest: ``-x``, ``-k oracle``, ``--exhaustive-depth 5``.

The suite runs under its own pytest configuration, ``pytest-kit.ini`` beside
this file, and never under the one of the directory it is started from, so
that the implementer's ``addopts`` or ``filterwarnings`` cannot change the
verdict; the Hypothesis profile is chosen by ``HYPOTHESIS_PROFILE`` (``dev``
by default, ``ci``, ``thorough``). The exit status is pytest's. In this
repository the same command is ``python -m spec --impl NAME``.

Test ids are printed relative to the suite's own directory, whichever
directory the command is started from: ``test_oracle.py::test_...``, never a
path into the environment the kit is installed in, so that an id copied from
a report works as it is with ``--deselect``, or as an argument that selects it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


class ShortTestIds:
    """Makes the suite's directory pytest's invocation directory, once the command line is parsed.

    pytest prints each test id relative to the directory it was started from, and
    resolves the ids given as arguments from there too: started elsewhere, every id
    would begin with the relative path to this directory. Paths given as options
    (``--impl``, ``--junitxml``) still resolve from the directory the command is
    started from, which stays the process's working directory.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        # This directory is always the first argument, so that pytest reads spec/'s conftest (its
        # options) first; test ids given as arguments too select those tests alone. They are made
        # absolute, in the command line too, for a process that pytest starts elsewhere with it.
        given = config.args[1:] if config.args[0] == str(HERE) else []
        absolute = {arg: str(HERE / arg) for arg in given}
        if given:
            config.args = list(absolute.values())
        invocation = config.invocation_params
        config.invocation_params = dataclasses.replace(
            invocation, dir=HERE, args=tuple(absolute.get(arg, arg) for arg in invocation.args)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",
        description="Run the conformance suite of rendezvous channels against an implementation.",
        epilog="Any other argument is passed to pytest.",
    )
    parser.add_argument(
        "--impl",
        required=True,
        help="a dotted module name or a path to a .py file that defines Channel and StreamChannel",
    )
    parser.add_argument(
        "--backend",
        choices=["asyncio", "trio", "all"],
        default="all",
        help="the backend whose checks run (default: all those the implementation runs on)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    return int(
        pytest.main(
            [
                "-c",
                str(HERE / "pytest-kit.ini"),
                "--rootdir",
                str(HERE),
                str(HERE),
                "--impl",
                args.impl,
                "--backend",
                args.backend,
                *pytest_args,
            ],
            plugins=[ShortTestIds()],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
