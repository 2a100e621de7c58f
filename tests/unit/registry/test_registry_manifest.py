import hashlib

import pytest

from registry.manifest import (
    FileStatus,
    compare_manifests,
    compute_manifest,
    decode_manifest,
    encode_manifest,
)


def test_compute_manifest_digests_every_file_recursively(tmp_path):
    (tmp_path / "MLmodel").write_bytes(b"flavors: {}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "model.pth").write_bytes(b"\x00\x01")
    manifest = compute_manifest(tmp_path)
    assert manifest == {
        "MLmodel": hashlib.sha256(b"flavors: {}\n").hexdigest(),
        "data/model.pth": hashlib.sha256(b"\x00\x01").hexdigest(),
    }
    assert list(manifest) == sorted(manifest)


def test_compare_flags_changed_missing_and_extra_files():
    expected = {"MLmodel": "a", "model.pkl": "b", "conda.yaml": "c"}
    actual = {"MLmodel": "x", "conda.yaml": "c", "evil.py": "d"}
    checks = {c.path: c for c in compare_manifests(expected, actual)}
    assert {path: c.status for path, c in checks.items()} == {
        "MLmodel": FileStatus.MISMATCH,
        "model.pkl": FileStatus.MISSING,
        "conda.yaml": FileStatus.OK,
        "evil.py": FileStatus.UNEXPECTED,
    }
    assert [c.problem for c in compare_manifests(expected, actual) if c.status is not FileStatus.OK] == [
        "MLmodel sha256 mismatch",
        "evil.py not in manifest",
        "model.pkl missing",
    ]


def test_encode_is_canonical_and_round_trips():
    manifest = {"b": "2", "a": "1"}
    assert encode_manifest(manifest) == '{"a":"1","b":"2"}'
    assert decode_manifest(encode_manifest(manifest)) == manifest


@pytest.mark.parametrize("text", ["[1, 2]", '{"a": 1}', "not json"])
def test_decode_rejects_anything_but_a_path_to_digest_map(text):
    with pytest.raises(ValueError):
        decode_manifest(text)
