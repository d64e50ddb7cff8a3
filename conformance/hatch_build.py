"""Put ../spec into the wheel as the package channels_conformance (spec/ imports itself relatively)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "channels_conformance"
# This repository's own tools: they mutate and explain our channels.py, not an implementer's
# (mutation, and the realistic bugs that measure the suite's power);
# broken/ holds the implementations broken on purpose that tests/kit/test_suite_verdicts.py checks.
REPOSITORY_ONLY = {"mutation.py", "mutation-survivors.md", "bugs.py", "power.py", "power.md", "broken"}


def kit_files(spec: Path) -> dict[str, str]:
    """Each file of the kit, by its path in ``spec``, with its path in the wheel."""
    return {
        str(path): f"{PACKAGE}/{path.relative_to(spec).as_posix()}"
        for path in sorted(spec.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.relative_to(spec).parts
        and not REPOSITORY_ONLY & {path.name, path.relative_to(spec).parts[0]}
    }


class ConformanceKitHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        repository = Path(self.root).resolve().parent
        build_data["force_include"].update(kit_files(repository / "spec"))
        build_data["force_include"][str(repository / "LICENSE")] = f"{PACKAGE}/LICENSE"
