"""The one place that hides secrets in URLs and messages: database URLs, RTSP URLs, error text.

Credentials are the text between `scheme://` and the LAST '@' before the host, so a password
with an unencoded '@', '#' or '?' is hidden whole (urllib splits at the first '#' and the first
'@' after it and leaks the rest). Query parameters that carry secrets (`?password=X`) are hidden
too. A URL whose host part cannot be parsed is hidden up to its path: when unsure, mask more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

MASK = "***"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_HOST = re.compile(r"^(\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9._~%!$&'()*+,;=\-]*)(:\d*)?$")
# key=value pairs that hold a secret, in a query string or a libpq-style "key=value" text
_SECRET_PARAM = re.compile(r"(?i)(?<![A-Za-z0-9_])(password|passwd|pwd|pass|secret|token|api_?key|access_token)"
                           r"(\s*=\s*)('[^']*'|\"[^\"]*\"|[^&;#\s'\"]*)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


@dataclass(frozen=True)
class UrlParts:
    scheme: str
    userinfo: str | None  # raw, as written (may hold unencoded '@', '#', ':')
    hostport: str
    tail: str  # path, query and fragment, as written

    @property
    def username(self) -> str | None:
        return None if self.userinfo is None else self.userinfo.split(":", 1)[0]

    @property
    def password(self) -> str | None:
        if self.userinfo is None or ":" not in self.userinfo:
            return None
        return self.userinfo.split(":", 1)[1]

    @property
    def host(self) -> str:
        """The host name or address, without port and IPv6 brackets."""
        m = _HOST.match(self.hostport)
        host = m.group(1) if m else self.hostport
        return host[1:-1] if host.startswith("[") and host.endswith("]") else host

    @property
    def host_ok(self) -> bool:
        return bool(_HOST.match(self.hostport))


def split_url(url: str) -> UrlParts | None:
    """`scheme://userinfo@host:port/rest` split by hand (None when `url` has no scheme://)."""
    m = _SCHEME.match(url)
    if not m:
        return None
    rest = url[m.end():]
    head_end = rest.find("/")
    head_end = len(rest) if head_end < 0 else head_end
    at = rest.rfind("@", 0, head_end)
    if at < 0 and "@" in rest and not _HOST.match(re.split(r"[?#]", rest[:head_end], maxsplit=1)[0]):
        at = rest.rfind("@")  # a '/' in the password: the host is what follows the last '@'
    userinfo, after = (rest[:at], rest[at + 1:]) if at >= 0 else (None, rest)
    end = re.search(r"[/?#]", after)
    cut = end.start() if end else len(after)
    return UrlParts(m.group(1), userinfo, after[:cut], after[cut:])


def _mask_params(text: str) -> str:
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def mask_url(url: str) -> str:
    """`url` with its password (and secret query parameters) replaced by ***; the user name is
    kept, so a log still says who tried. Text without scheme:// only has key=value secrets masked."""
    url = str(url)
    parts = split_url(url)
    if parts is None:
        return _mask_params(url)
    if parts.userinfo is not None:
        cred = f"{parts.username}:{MASK}" if parts.password is not None else parts.userinfo
        authority = f"{cred}@{parts.hostport}"
    elif not parts.host_ok:
        authority = MASK  # unparsable: it may be "user:password" with the '@host' missing
    else:
        authority = parts.hostport
    return f"{parts.scheme}://{authority}{_mask_params(parts.tail)}"


def url_secrets(url: str) -> list[str]:
    """The secret strings of `url` (password and secret query values): as written, URL-decoded and quoted."""
    parts = split_url(str(url))
    found: list[str] = []
    if parts is not None and parts.password:
        found.append(parts.password)
    tail = parts.tail if parts is not None else str(url)
    found += [m.group(3).strip("'\"") for m in _SECRET_PARAM.finditer(tail)]
    out = {s for f in found for s in (f, unquote(f), quote(unquote(f), safe="")) if s}
    return sorted(out, key=len, reverse=True)  # longest first: a decoded form may contain a shorter one


def scrub(text: str, url: str) -> str:
    """`text` (e.g. a library error that may quote the URL) with `url`'s secrets replaced by ***."""
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return text


def mask_text(text: str) -> str:
    """Every URL in `text` masked, and key=value secrets: the last guard before a line is printed."""
    return _mask_params(_URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), str(text)))


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """`url` with user and password set (URL-quoted); credentials already in the URL are replaced
    only by the ones given."""
    parts = split_url(url)
    if parts is None or (not username and password is None):
        return url
    user = username if username is not None else unquote(parts.username or "")
    pw = password if password is not None else (unquote(parts.password) if parts.password is not None else None)
    cred = quote(user, safe="") + (f":{quote(pw, safe='')}" if pw is not None else "")
    return f"{parts.scheme}://{cred}@{parts.hostport}{parts.tail}"


def quote_credentials(url: str) -> str:
    """`url` with its credentials URL-quoted, so a password typed with a raw '@', '#' or '/'
    reaches the camera or database whole instead of being split into host, path and fragment.
    Already quoted credentials stay as they are."""
    parts = split_url(str(url))
    if parts is None or parts.userinfo is None:
        return url
    return with_credentials(url, unquote(parts.username or ""),
                            unquote(parts.password) if parts.password is not None else None)
