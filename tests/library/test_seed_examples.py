"""The seed's two examples, run as written, print exactly what the seed shows."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.clause("SEED-EXAMPLES")
@pytest.mark.parametrize(
    ("script", "output"),
    [("simplex.py", "One\nTwo\nThree\n"), ("duplex.py", "A\n0\nB\n1\n")],
)
def test_seed_example_prints_what_the_seed_shows(
    script: str, output: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest leaves syspath_prepend's argument unannotated.
    monkeypatch.syspath_prepend(str(EXAMPLES))  # pyright: ignore[reportUnknownMemberType]
    monkeypatch.delitem(sys.modules, "foo", raising=False)
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    assert capsys.readouterr().out == output
