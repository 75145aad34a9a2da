"""User-facing errors: each carries one line naming the bad input and the fix."""


class VigilError(Exception):
    """A user mistake or an environment problem. The CLI prints it as one line and exits 2."""

    exit_code = 2


class ConfigError(VigilError):
    pass


class WeightsNotFound(VigilError):
    pass


class SourceError(VigilError):
    """A video source could not be opened or decoded."""
