import socket
import sys
from pathlib import Path

from cluster.ports import port_holder, port_is_free
from cluster.processes import is_running, session_members, spawn, stop_session

# A parent that forks a grandchild which ignores SIGTERM: stopping the session must still end both.
FAMILY = (
    "import signal, subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', "
    "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
    "print('started', flush=True); time.sleep(60)\n"
)


def test_stop_session_ends_the_leader_and_every_descendant(tmp_path: Path):
    log = tmp_path / "family.log"
    leader = spawn([sys.executable, "-c", FAMILY], {}, log)
    while "started" not in (log.read_text() if log.exists() else ""):
        assert is_running(leader)
    members = session_members(leader)
    assert leader in members and len(members) == 2
    assert stop_session(leader, grace_s=0.5) == 2
    assert not any(is_running(pid) for pid in members)
    assert session_members(leader) == []


def test_stopping_a_session_that_is_gone_finds_nothing():
    assert stop_session(2**22 + 12345, grace_s=0.1) == 0


def test_a_listening_port_is_reported_with_its_holder():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_is_free("127.0.0.1", port) is False
        assert port_holder(port).startswith("pid ")
    assert port_is_free("127.0.0.1", port) is True
