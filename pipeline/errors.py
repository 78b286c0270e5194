"""Errors a user can act on: the CLI prints them without a traceback."""


class UserError(Exception):
    """Bad input or configuration: the message says what is wrong and where."""
