"""Suite-wide settings.

Hypothesis runs derandomized by default, so a CI run and a local run draw the same examples and a red build is
reproducible from the commit alone. ``HYPOTHESIS_PROFILE=explore`` draws fresh random examples (more of them) for
bug hunting; ``bench/fuzz.py`` does the same at scale. A failure found that way becomes an explicit example or a
regression test.
"""

from __future__ import annotations

import os

# frozen records refuse assignment at run time in the suite (and in the processes it starts): see dockerfix._record.
# Set before anything imports dockerfix (the classes read it when they are made).
os.environ["DOCKERFIX_FROZEN_GUARD"] = "1"

from hypothesis import settings  # noqa: E402

settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", max_examples=2000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
