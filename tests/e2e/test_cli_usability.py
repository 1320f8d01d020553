"""The command line a person lives in: --version from the package's metadata, --debug on
either side of the subcommand, replay's default data folder and its word about an instant
before the first record, route-test's stdin and inline JSON, `| head` without a traceback,
demo-config, serve's --listen/--data-dir and its port check before anything is written."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest
import trio

from pager.cli import build_parser, main
from pager.config import load_config_text
from pager.config.demo import demo_config_text

from .test_cli import make_history, run_cli


def test_version_comes_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"pager {version('pager')}"


def test_debug_is_accepted_before_and_after_the_subcommand() -> None:
    p = build_parser()
    assert p.parse_args(["--debug", "demo-config"]).debug is True
    assert p.parse_args(["demo-config", "--debug"]).debug is True
    assert p.parse_args(["replay", "--verify"]).debug is False
    assert p.parse_args(["--debug", "replay", "--verify"]).debug is True


def test_demo_config_prints_a_file_that_loads_as_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(capsys, "demo-config")
    assert code == 0 and out == demo_config_text()
    config = load_config_text(out, env={})
    assert [s.id for s in config.services] == ["demo"]


def test_route_test_reads_stdin_and_inline_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, inline, _ = run_cli(capsys, "route-test", '{"title": "Disk full"}', "--json")
    assert code == 0 and orjson.loads(inline)["service"]["id"] == "demo"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"title": "Disk full"}')))
    code, piped, _ = run_cli(capsys, "route-test", "-", "--json")
    assert code == 0 and orjson.loads(piped)["service"] == orjson.loads(inline)["service"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{nope")))
    with pytest.raises(SystemExit, match="standard input is not JSON"):
        main(["route-test", "-"])


def test_an_at_past_year_9999_in_utc_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    far = "9999-12-31T23:59:59-23:59"  # year 10000 in UTC
    with pytest.raises(SystemExit, match=r"^pager route-test: --at: .* out of range"):
        main(["route-test", '{"title": "Disk full"}', "--at", far])
    (tmp_path / "events").mkdir()
    with pytest.raises(SystemExit, match=r"^pager replay: --at .* is not an ISO 8601 instant"):
        main(["replay", "--data-dir", str(tmp_path), "--at", far])


def test_replay_defaults_to_pager_data_and_says_when_at_is_before_the_first_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def build() -> None:
        with trio.fail_after(30):
            await make_history(tmp_path / "pager-data")

    trio.run(build)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "replay", "--verify")
    assert code == 0 and out.strip().endswith("clean")
    code, out, err = run_cli(capsys, "replay", "--at", "2000-01-01T00:00:00Z")
    assert code == 0 and orjson.loads(out)["open_incidents"] == []
    assert "is before the first record" in err
    code, _, err = run_cli(capsys, "replay", "--at", "2999-01-01T00:00:00Z")
    assert "before the first record" not in err
    # the timeline counts levels and rounds from 1, as the API does; the export is the log's
    code, out, _ = run_cli(capsys, "replay", "--incident", "inc-1")
    escalated = next(line for line in out.splitlines() if "incident.escalated" in line)
    assert orjson.loads(escalated.split(None, 3)[3])["level"] == 1
    code, out, _ = run_cli(capsys, "replay", "--export")
    first = next(orjson.loads(x) for x in out.splitlines() if "incident.escalated" in x)
    assert (first["data"]["level"], first["data"]["round"]) == (0, 0)
    monkeypatch.chdir(tmp_path / "pager-data")
    with pytest.raises(SystemExit, match="pager-data is not a pager data folder"):
        main(["replay", "--verify"])


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    async def build() -> None:
        with trio.fail_after(30):
            await make_history(tmp_path / "pager-data")

    trio.run(build)
    cmd = f"{sys.executable} -m pager replay --export --data-dir pager-data | head -1"
    done = subprocess.run(
        ["bash", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0 and orjson.loads(done.stdout)["seq"] == 1
    assert done.stderr == ""


def test_serve_port_clash_names_the_address_before_creating_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(SystemExit) as e:
            main(["serve", "--listen", addr, "--data-dir", str(tmp_path / "d")])
    assert str(e.value).startswith(f"pager serve: cannot listen on {addr} (server.listen):")
    assert not (tmp_path / "d").exists()  # no data folder, so nothing journaled either
    with pytest.raises(SystemExit, match="--listen 'nowhere'"):
        main(["serve", "--listen", "nowhere"])


async def test_serve_takes_listen_and_data_dir_and_prints_its_pid(tmp_path: Path) -> None:
    from .service import PagerProcess

    pager = PagerProcess(
        None,
        tmp_path / "pager.log",
        extra=("--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "here")),
        cwd=tmp_path,
    )
    with trio.fail_after(60):
        await pager.start()
        try:
            assert pager.url.startswith("http://127.0.0.1:") and not pager.url.endswith(":8080")
            assert (tmp_path / "here" / "events").is_dir()
            assert not (tmp_path / "pager-data").exists()
        finally:
            assert await pager.stop() == 0
    # the demo on loopback: its published password and token are no news
    assert "configuration warning" not in (tmp_path / "pager.log").read_text()


async def test_serve_logs_the_configuration_warnings_before_it_starts(tmp_path: Path) -> None:
    """A file made from demo-config keeps the demo's password: check-config says so, and
    so does serve, which is what everyone runs."""
    from .service import PagerProcess

    cfg = tmp_path / "pager.yaml"
    cfg.write_text(demo_config_text())
    pager = PagerProcess(
        cfg,
        tmp_path / "pager.log",
        extra=("--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")),
        cwd=tmp_path,
    )
    with trio.fail_after(60):
        await pager.start()
        assert await pager.stop() == 0
    logged = (tmp_path / "pager.log").read_text()
    assert (
        "WARNING pager: configuration warning: users[0].password_hash: the demo's password"
        in logged
    )
    assert "configuration warning: auth.api_tokens[0].token: weak secret" in logged
    # why it is weak (its length, here) is check-config's to say, not the service log's
    assert "characters long" not in logged and "pager check-config` says why" in logged


def test_the_demo_warns_once_it_listens_beyond_loopback(caplog: pytest.LogCaptureFixture) -> None:
    from pager.cli.serve import _override, _warn
    from pager.config import load_demo_config

    demo = load_demo_config()
    for listen, warned in (("127.0.0.1:0", False), ("localhost:0", False), ("[::1]:0", False),
                           ("0.0.0.0:0", True), ("pager.example.net:8080", True)):  # fmt: skip
        caplog.clear()
        _warn(_override(demo, listen, None), demo=True)
        said = [r.getMessage() for r in caplog.records]
        assert bool(said) == warned, (listen, said)
        if warned:
            assert any("the demo's password" in m for m in said)


def test_the_banner_prints_the_pid(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from pager.cli.serve import _banner
    from pager.config import load_demo_config

    running = SimpleNamespace(
        urls=["http://127.0.0.1:1"], ingest_url=None, load=SimpleNamespace(replayed=0)
    )
    config = load_demo_config(tmp_path)
    pid = os.getpid()
    assert f"pid {pid}\n" in _banner(config, running, demo=True)
    # the demo says how to sign in to its dashboard
    assert _banner(config, running, demo=True).endswith(
        "\nor in a browser: http://127.0.0.1:1/ (sign in as demo, password demo-password)"
    )
    assert f"pid {pid} (kill -HUP {pid} reloads" in _banner(config, running, demo=False)
