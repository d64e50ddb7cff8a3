"""Shared by tests/ and spec/: the event loops that every loop-driven test runs on."""

from __future__ import annotations

# spec/ defines the fixture, so that the installed conformance kit has it too.
from spec.conftest import loop_factory

__all__ = ["loop_factory"]
