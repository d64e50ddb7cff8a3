"""``python3 examples``: run the seed's two examples with this checkout's channels.py."""

import runpy
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path[:0] = [str(here.parent), str(here)]
for script in ("simplex.py", "duplex.py"):
    print(f"--- examples/{script}")
    runpy.run_path(str(here / script), run_name="__main__")
