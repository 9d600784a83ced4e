"""``dockerfix pr``: the pull-request bot (a frontend).

:mod:`dockerfix.bot.cli` turns flags into a :class:`~dockerfix.bot.cli.Settings` and runs the steps; git and the
GitHub REST API sit behind :class:`~dockerfix.bot.git.Git` and :class:`~dockerfix.bot.github.GitHubClient`, both
passed in, so tests use a real ``git`` with a local bare repository and a GitHub stand-in on 127.0.0.1.
"""
