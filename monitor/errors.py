"""The one error type a user ever sees.

A `UserError` is something the person running the command can fix (a bad file,
a bad line, a missing field). The CLI prints its message on one line and exits
with status 1; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line naming where it is."""
