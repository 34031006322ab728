"""Errors a user can fix. The CLI reports them as one line (what, where, what to do) instead of a traceback."""


class DrivelabError(Exception):
    pass


class MissingInputError(DrivelabError, FileNotFoundError):
    """An input file or folder a command needs does not exist yet."""


class ConfigError(DrivelabError, ValueError):
    """A configuration problem, explained in one line."""
