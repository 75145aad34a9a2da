"""Secrets never reach a message: the one masking function (vigil.secrets), RTSP credentials with
raw '@' and '#', and the CLI's error line for database URLs."""

from __future__ import annotations

import pytest

from tests.core.test_cli_bad_input import one_error_line, vigil
from vigil.config.live import LiveConfig
from vigil.config.site import CameraConfig
from vigil.secrets import mask_text, mask_url, quote_credentials, scrub, split_url
from vigil.sources.nvr import stream_target

S = "S3KRIT"  # every secret below contains it


@pytest.mark.parametrize("url, masked", [
    # password in the query string (SQLAlchemy's own masking keeps it)
    (f"postgresql://h/db?password={S}", "postgresql://h/db?password=***"),
    (f"postgresql://h/db?sslmode=require&PASSWORD={S}&x=1", "postgresql://h/db?sslmode=require&PASSWORD=***&x=1"),
    # malformed: urllib and SQLAlchemy refuse it, and the error printed it whole
    (f"postgresql+psycopg://u:pw{S}@[::1/db", "postgresql+psycopg://u:***@[::1/db"),
    (f"postgresql://u:{S}/db", "postgresql://***/db"),  # '@host' missing: the authority may be user:password
    # unencoded '@', '#', '?' and '/' in an RTSP password: userinfo runs to the LAST '@' before the host
    (f"rtsp://admin:p@ss#{S}@cam.local:554/live", "rtsp://admin:***@cam.local:554/live"),
    (f"rtsp://admin:a?b#{S}@10.0.0.5/Streaming/Channels/101", "rtsp://admin:***@10.0.0.5/Streaming/Channels/101"),
    (f"rtsp://admin:a/{S}@cam/x", "rtsp://admin:***@cam/x"),
    # unchanged when there is nothing secret
    ("rtsp://cam.local/live?channel=1", "rtsp://cam.local/live?channel=1"),
    ("sqlite:///vigil.db", "sqlite:///vigil.db"),
    ("vigil.db", "vigil.db"),
    (f"host=h password={S} dbname=x", "host=h password=*** dbname=x"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked
    assert S not in mask_url(url)


def test_split_takes_the_host_after_the_last_at():
    parts = split_url(f"rtsp://admin:p@ss#{S}@cam.local:554/live?x=1#frag")
    assert (parts.username, parts.password, parts.hostport, parts.host, parts.tail) == (
        "admin", f"p@ss#{S}", "cam.local:554", "cam.local", "/live?x=1#frag")
    assert split_url("rtsp://u:p@[fe80::1]:8554/a").host == "fe80::1"


def test_quote_credentials_keeps_the_password_whole_and_is_idempotent():
    url = quote_credentials(f"rtsp://admin:p@ss#{S}@cam:554/live")
    assert url == f"rtsp://admin:p%40ss%23{S}@cam:554/live"
    assert quote_credentials(url) == url
    assert quote_credentials("rtsp://cam/live") == "rtsp://cam/live"


def test_scrub_and_mask_text_remove_every_form_of_the_secret():
    url = f"rtsp://admin:p@ss#{S}@cam/x"
    assert S not in scrub(f"401 for {quote_credentials(url)} (p@ss#{S})", url)
    text = f"cannot open 'postgresql://u:{S}@h/db?password={S}': password={S} rejected"
    assert S not in mask_text(text) and "postgresql://u:***@h/db" in mask_text(text)


def test_rtsp_source_with_raw_at_and_hash_in_the_password():
    """The camera gets the whole password (quoted), and status/runs/logs show it masked."""
    cam = CameraConfig(id="gate", source=f"rtsp://admin:p@ss#{S}@10.0.0.7:554/live")
    target = stream_target(cam, LiveConfig(), cam.source)
    assert split_url(target.url).host == "10.0.0.7"
    assert target.masked == "rtsp://admin:***@10.0.0.7:554/live"
    assert S not in repr(target)


@pytest.mark.parametrize("db", [
    f"postgresql://127.0.0.1:1/db?password={S}",
    f"postgresql+psycopg://u:pw{S}@[::1/db",
    f"postgresql://u:p@ss#{S}@127.0.0.1:1/db",
])
def test_cli_database_errors_never_print_the_password(db):
    line = one_error_line(vigil("counts", "--db", db), "")
    assert S not in line


def test_raw_at_in_a_database_password_reaches_the_driver_whole():
    """The old parse split 'p@ss#X@127.0.0.1' at the first '@' and tried to resolve 'ss#X@127.0.0.1'."""
    line = one_error_line(vigil("counts", "--db", f"postgresql://u:p@ss#{S}@127.0.0.1:1/db"), "127.0.0.1")
    assert "resolve host" not in line and "refused" in line
