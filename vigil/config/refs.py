"""References to secrets kept out of config files and command lines (docker-compose style):

  ${NAME}        the environment variable NAME (an error if it is not set)
  ${file:PATH}   the contents of a file, e.g. a docker secret: ${file:/run/secrets/db_password}
                 (a relative PATH is relative to the config file; one trailing newline is dropped)
  $${            a literal "${"

Used for every string value of a site or pipeline YAML, and for --db / $VIGIL_DB.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vigil.errors import ConfigError

_SUBST = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def substitute(text: str, where: str, base: Path | None = None) -> str:
    """`text` with its ${NAME} and ${file:PATH} references replaced; `where` (file and key) starts
    each error, `base` is the folder relative PATHs start from (default: the working directory)."""
    if "${" not in text:
        return text

    def one(m: re.Match) -> str:
        if m.group(0) == "$${":
            return "${"
        ref = m.group(1).strip()
        if ref.startswith("file:"):
            p = resolve_file(ref[5:].strip(), base or Path.cwd())
            try:
                value = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                why = getattr(exc, "strerror", None) or type(exc).__name__
                raise ConfigError(f"{where}: cannot read secret file '{p}' ({why}); check the path and "
                                  "its permissions") from None
            return value.removesuffix("\n")
        if not _ENV_NAME.match(ref):
            raise ConfigError(f"{where}: '${{{ref[:40]}}}' is not a variable; use ${{NAME}} or ${{file:/path}} "
                              "(write $${ for a literal ${)")
        env = os.environ.get(ref)
        if env is None:
            raise ConfigError(f"{where}: environment variable {ref} is not set; export it, or set it in the "
                              "service's EnvironmentFile")
        return env

    return _SUBST.sub(one, text)


def resolve_file(name: str, base: Path) -> Path:
    try:
        p = Path(name).expanduser()
    except RuntimeError:  # "~user" that does not exist: leave it, opening it names the problem
        p = Path(name)
    return p if p.is_absolute() else (base / p).resolve()
