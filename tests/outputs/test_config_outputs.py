"""Bad output config is one clear line and exit 2 at start-up (`vigil outputs check`,
`vigil replay`, `vigil run`), before any model loads or frame is read; secrets never show."""

from __future__ import annotations

import pytest

from tests.outputs.brokers import receiver  # noqa: F401 (fixture)
from tests.outputs.sitekit import mqtt_output, webhook_output, write_site
from vigil.cli import main


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "k")


def one_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err, err
    return err


BAD = [
    ([mqtt_output(1883).replace("127.0.0.1", "no-such-broker.invalid")],
     "cannot resolve MQTT broker host 'no-such-broker.invalid'"),
    ([webhook_output("https://no-such-receiver.invalid/hook")],
     "cannot resolve webhook host 'no-such-receiver.invalid'"),
    ([webhook_output("ftp://127.0.0.1/hook")], "is not an http:// or https:// URL"),
    ([webhook_output("http://127.0.0.1:99999/hook")], "port 99999"),
    ([mqtt_output(70000)], "port: Input should be less than or equal to 65535"),
    ([mqtt_output(1883), mqtt_output(1883)], "output name 'broker' is used twice"),
    ([mqtt_output(1883, extra="    hots: x\n")], "unknown key 'hots'"),
    ([mqtt_output(1883, extra="    filter: {cameras: [cam9]}\n")], "names camera 'cam9', which is not in the site"),
    ([mqtt_output(1883, extra="    tls: {ca_file: missing-ca.pem}\n")], "tls.ca_file"),
    ([mqtt_output(1883, extra="    password: ${NO_SUCH_MQTT_PASSWORD}\n")],
     "environment variable NO_SUCH_MQTT_PASSWORD is not set"),
    ([mqtt_output(1883, extra="    password: ${file:no-such-secret}\n")], "cannot read secret file"),
]


@pytest.mark.parametrize(("outputs", "expected"), BAD, ids=[e[:24] for _, e in BAD])
def test_bad_output_config_is_one_line_exit_2(tmp_path, capsys, outputs, expected):
    cfg = write_site(tmp_path, outputs)
    err = one_error(capsys, ["outputs", "check", str(cfg)])
    assert expected in err, err


def test_replay_and_run_check_outputs_before_loading_models(tmp_path, capsys):
    # the pipeline's weights do not exist: reaching the models would be a different error
    cfg = write_site(tmp_path, [mqtt_output(1883).replace("127.0.0.1", "no-such-broker.invalid")],
                     weights="missing.onnx")
    (tmp_path / "clip.mp4").write_bytes(b"")
    for argv in (["replay", str(cfg), "--no-progress", "--db", f"sqlite:///{tmp_path / 'v.db'}"],
                 ["run", str(cfg), "--db", f"sqlite:///{tmp_path / 'v.db'}"]):
        err = one_error(capsys, argv)
        assert "cannot resolve MQTT broker host 'no-such-broker.invalid'" in err, (argv[0], err)


def test_webhook_token_and_secret_never_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "very-secret-key")
    cfg = write_site(tmp_path, [webhook_output("ftp://127.0.0.1/hook?token=tok-123")])
    err = one_error(capsys, ["outputs", "check", str(cfg)])
    assert "tok-123" not in err and "very-secret-key" not in err


def test_check_says_which_output_is_reachable(tmp_path, capsys, receiver):  # noqa: F811
    from tests.outputs.brokers import free_port

    cfg = write_site(tmp_path, [webhook_output(receiver.url), mqtt_output(free_port())])
    capsys.readouterr()
    assert main(["outputs", "check", str(cfg)]) == 1  # the broker is not listening: exit 1, not 2
    out = capsys.readouterr().out
    assert "hook: webhook" in out and "reachable" in out.splitlines()[0]
    assert "not reachable now" in out.splitlines()[1]


def test_outputs_run_without_outputs_says_how(tmp_path, capsys):
    cfg = write_site(tmp_path, [])
    err = one_error(capsys, ["outputs", "run", str(cfg), "--drain"])
    assert "no outputs: section" in err


def test_a_dns_that_does_not_answer_yet_is_not_a_config_error(tmp_path, capsys, monkeypatch):
    """At boot the resolver may be away (EAI_AGAIN): the output retries, start-up goes on;
    only a name that does not exist is the user's mistake."""
    import socket

    from vigil.config import outputs as out_cfg
    from vigil.config.load import load_site

    def away(host, port):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(out_cfg._Check, "resolve", staticmethod(away))
    cfg = load_site(write_site(tmp_path, [mqtt_output(1883).replace("127.0.0.1", "broker.example.org")]))
    out_cfg.check_outputs(cfg.site.outputs, ["cam1", "cam2"], tmp_path)  # no error

    def missing(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(out_cfg._Check, "resolve", staticmethod(missing))
    with pytest.raises(out_cfg.ConfigError, match="cannot resolve MQTT broker host 'broker.example.org'"):
        out_cfg.check_outputs(cfg.site.outputs, ["cam1", "cam2"], tmp_path)
