"""I/O at the edges: build-context access, safe file writes. Frontends pass these into the core."""
