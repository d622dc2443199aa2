"""The error a finite run's steps raise for anything the user can fix (a flag, a receiver, an input)."""


class UserError(Exception):
    """Anything a user can fix; the CLI prints the message as is (one line) and exits 2."""
