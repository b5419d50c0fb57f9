"""End-to-end guard: notifications that arrive together are handled as one batch; a batch that
fails is handled again one by one, which hides its cause. No end-to-end flow may need that."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_batch_falls_back(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.WARNING, logger="fintrust.notifications"):
        yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    fallbacks = [r for r in records if "handling each alone" in r.getMessage()]
    assert not fallbacks, f"a batch of notifications failed: {fallbacks[0].exc_text}"
