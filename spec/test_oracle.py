"""The PEP 525 mirror, checked differentially against native async generators (:mod:`spec.oracle`).

Hypothesis draws a body script and a client script; what every client call
returns or raises, and what the body receives at each yield, must be the same
on a channel as on a native async generator. A call left pending, a step
that does not end and noise are failures too, each naming its clause.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conformance import LoopFactory
from .impl import not_installed
from .oracle import Backend, Body, compare, observe, on_asyncio
from .test_conformance import MIRROR_CLAUSES

bodies = st.tuples(
    st.lists(st.integers(0, 9), max_size=4).map(tuple), st.booleans(), st.sampled_from(["return", "raise"])
)
client_ops = st.lists(
    st.one_of(
        st.just(("anext", None)),
        st.tuples(st.just("asend"), st.integers(10, 19)),
        st.just(("athrow", None)),
        st.just(("aclose", None)),
    ),
    max_size=7,
)


@pytest.mark.clause(*MIRROR_CLAUSES, "CANCEL-PROMPT", "NO-HANG", "NO-NOISE")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, ops=client_ops)
def test_channel_mirrors_a_native_async_generator(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, body: Body, ops: list[tuple[str, Any]]
) -> None:
    backend = on_asyncio(loop_factory)
    native, channel = observe(impl, body, ops, backend)
    compare(impl_name, body, ops, native, channel, backend.name)


@pytest.mark.clause(*MIRROR_CLAUSES, "CANCEL-PROMPT", "NO-HANG", "TRIO-CANCELLATION")
@pytest.mark.backend("trio")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, ops=client_ops)
def test_channel_mirrors_a_native_async_generator_on_trio(
    impl: ModuleType, impl_name: str, trio_oracle: Backend, body: Body, ops: list[tuple[str, Any]]
) -> None:
    native, channel = observe(impl, body, ops, trio_oracle)
    compare(impl_name, body, ops, native, channel, trio_oracle.name)


@pytest.fixture
def trio_oracle(impl: ModuleType) -> Backend:
    """The oracle on trio, once ``impl`` is known to run on it (else the test is skipped, naming BACKENDS)."""
    pytest.importorskip("trio", reason=not_installed("trio"))
    from .trio_harness import require_trio
    from .trio_oracle import ON_TRIO

    require_trio(impl)
    return ON_TRIO
