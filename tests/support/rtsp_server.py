#!/usr/bin/python3
"""A loopback RTSP server for tests, on Debian's GStreamer RTSP server (python3-gi).

Runs with the SYSTEM python3 (not the venv), as a subprocess:

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount cam=/path/clip.mp4 [--user u --password p]

Each mount serves an H.264 MP4 file, demuxed and re-payloaded (no re-encoding), paced in real time
by the file's timestamps. Every client gets its own pipeline from the start of the file (not
shared), so N clients of one mount behave like N cameras. When the file ends the stream ends
(the client sees EOF), like a camera that stops sending. With --shared, all clients of a mount
watch one pipeline, like one real camera seen by several viewers: a client joining later sees
what is playing now, and the stream goes on while any client is connected.

Prints `READY <port>` on stdout once it listens; exits on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def make_factory(path: str, shared: bool = False) -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    # config-interval=-1 repeats SPS/PPS before every IDR, so a client joining late can decode.
    factory.set_launch(f'( filesrc location="{path}" ! qtdemux ! h264parse ! '
                       'rtph264pay name=pay0 pt=96 config-interval=-1 )')
    factory.set_shared(shared)
    if shared:  # a client killed without TEARDOWN must not stop the stream for the others
        factory.set_stop_on_disconnect(False)
    return factory


def require_basic_auth(server, factories, user: str, password: str) -> None:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    for factory in factories:
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.from_string(
            "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0])
        factory.set_permissions(perms)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--mount", action="append", required=True, metavar="NAME=FILE",
                    help="serve FILE (H.264 MP4) at rtsp://ADDRESS:PORT/NAME; repeatable")
    ap.add_argument("--shared", action="store_true", help="one pipeline per mount for all clients (a live camera)")
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    factories = []
    for spec in args.mount:
        name, _, path = spec.partition("=")
        if not path:
            ap.error(f"--mount {spec!r}: expected NAME=FILE")
        factory = make_factory(path, args.shared)
        mounts.add_factory("/" + name.strip("/"), factory)
        factories.append(factory)
    if args.user:
        require_basic_auth(server, factories, args.user, args.password or "")
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 3

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
