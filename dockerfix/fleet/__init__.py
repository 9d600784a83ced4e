"""Running dockerfix across many repositories with the tools organisations already use (docs/fleets.md).

``dockerfix.fleet.all_repos``: an autofixer for all-repos (``python -m dockerfix.fleet.all_repos``).
"""
