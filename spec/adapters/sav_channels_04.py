"""sav.channels 0.4 (PyPI) as an implementation under test: names only, no behaviour changed.

``pytest spec --impl spec.adapters.sav_channels_04`` runs the conformance suite
against it; ``python -m spec.against sav_channels_04`` (tox -e sav04) checks
that it fails exactly the clauses listed in ``sav_channels_04.expected.txt``.
"""

from sav.channels import Channel, StreamChannel

__all__ = ["Channel", "StreamChannel"]
