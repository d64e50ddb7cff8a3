"""Side-by-side benchmarks of channels.py against the alternatives: ``python -m bench``.

Every contender runs interleaved round-robin in one process (see ``bench.runner``),
and the run writes ``bench/results/results.md`` and ``bench/results/results.png``.
"""
