"""Reference cycles between an exception and the implementation's frames (NO-NOISE).

An exception keeps in its traceback every frame it was raised through, and a
frame keeps its locals. When a local of such a frame of the implementation leads
back to the exception (a parameter that holds it, or the channel's state that
stores it), the exception, the frame and everything they refer to form a
reference cycle: dropped, they are not freed at once, but whenever the cyclic
garbage collector next runs, with the finalizers that they hold. NO-NOISE
counts such a cycle as noise.

:class:`CycleWatch` finds them in one run of the suite. It moves every object
that exists when the run starts to the collector's permanent generation
(:func:`gc.freeze`) and pauses the automatic collections; when the run ends,
one collection that keeps what it finds unreachable (``gc.DEBUG_SAVEALL``)
sees the objects that the run made and dropped, and nothing older. Each
exception among them whose traceback passes through a frame of the
implementation's source, and that this frame reaches again through its locals
(not through its caller), is a cycle to report, with the way back. Explicit
collections during the run (the harness's, when a client is abandoned) free
what was unreachable by then unseen.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from types import FrameType, ModuleType, TracebackType


def sources_of(module: ModuleType) -> frozenset[str]:
    """The source file of the implementation under test, whose frames are watched."""
    path = getattr(module, "__file__", None)
    return frozenset({os.path.realpath(path)}) if path else frozenset()


class CycleWatch:
    """Watches one run: :meth:`stop` returns each cycle through the implementation's frames found."""

    def __init__(self, sources: frozenset[str]) -> None:
        self.sources = sources
        # A run within a watched run (the replays of a report), or one whose caller turned the
        # collector off, leaves the collector as it is: the outer watch sees its cycles.
        self.active = bool(sources) and gc.isenabled()
        if self.active:
            gc.freeze()
            gc.disable()

    def stop(self) -> list[str]:
        """Collect what the run dropped; the cycles that pass through the implementation's frames."""
        if not self.active:
            return []
        self.active = False
        debug = gc.get_debug()
        gc.set_debug(debug | gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            garbage = list(gc.garbage)
            gc.garbage.clear()
        finally:
            gc.set_debug(debug)
        try:
            return self.cycles(garbage)
        finally:
            del garbage
            gc.collect()  # what the first collection kept for inspection, freed now
            gc.unfreeze()
            gc.enable()

    def cycles(self, garbage: list[object]) -> list[str]:
        unreachable = {id(obj) for obj in garbage}
        found: dict[str, None] = {}
        for obj in garbage:
            if not isinstance(obj, BaseException):
                continue
            tb: TracebackType | None = obj.__traceback__
            while tb is not None:
                frame = tb.tb_frame
                if os.path.realpath(frame.f_code.co_filename) in self.sources:
                    way = _way_back(frame, obj, unreachable)
                    if way is not None:
                        where = f"{os.path.basename(frame.f_code.co_filename)}:{tb.tb_lineno}"
                        found[
                            f"a reference cycle keeps {type(obj).__name__} alive: raised through "
                            f"{frame.f_code.co_name} ({where}), whose frame leads back to it "
                            f"({' -> '.join(['frame', *way])}); only the cyclic garbage collector "
                            "frees them"
                        ] = None
                tb = tb.tb_next
        return list(found)


def _way_back(frame: FrameType, target: BaseException, unreachable: set[int]) -> list[str] | None:
    """The types on a path of references from ``frame``'s locals to ``target`` among ``unreachable``.

    A frame's caller (``f_back``) is not followed: the cycle must close through what the
    frame itself holds.
    """
    paths: dict[int, list[str]] = {id(frame): []}
    todo: deque[object] = deque([frame])
    while todo:
        obj = todo.popleft()
        caller = obj.f_back if isinstance(obj, FrameType) else None
        for ref in gc.get_referents(obj):
            if ref is caller:
                continue
            if ref is target:
                return [*paths[id(obj)], type(ref).__name__]
            if id(ref) in unreachable and id(ref) not in paths:
                paths[id(ref)] = [*paths[id(obj)], type(ref).__name__]
                todo.append(ref)
    return None
