"""Model layer: stages and scopes, variable expansion, image references, the shell inside RUN."""
