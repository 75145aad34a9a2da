"""User-facing errors: each carries one line naming the bad input and the fix."""


class VigilError(Exception):
    """A user mistake or an environment problem. The CLI prints it as one line and exits 2."""

    exit_code = 2


class ConfigError(VigilError):
    """A config file or option is wrong. The message is kept to one line (YAML keys and values
    quoted in it may hold newlines)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class WeightsNotFound(VigilError):
    pass


class SourceError(VigilError):
    """A video source could not be opened or decoded."""
