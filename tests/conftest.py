"""Suite-wide settings.

Hypothesis runs derandomized by default, so a CI run and a local run draw the same examples and a red build is
reproducible from the commit alone. ``HYPOTHESIS_PROFILE=explore`` draws fresh random examples (more of them) for
bug hunting; ``bench/fuzz.py`` does the same at scale. A failure found that way becomes an explicit example or a
regression test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", max_examples=2000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
