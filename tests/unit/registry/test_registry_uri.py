import pytest

from registry.errors import InvalidAliasError, InvalidModelUriError
from registry.uri import ModelRef, parse_model_uri, validate_alias


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/iris/3", ModelRef(name="iris", version="3")),
        ("models:/iris@champion", ModelRef(name="iris", alias="champion")),
        ("iris@challenger", ModelRef(name="iris", alias="challenger")),
        ("iris/12", ModelRef(name="iris", version="12")),
        ("iris/007", ModelRef(name="iris", version="7")),
        ("breast-cancer.xgb@champion", ModelRef(name="breast-cancer.xgb", alias="champion")),
    ],
)
def test_parse_accepts_every_documented_form(uri, expected):
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "iris",
        "models:/iris",
        "models:/m-4deda43b",
        "iris/latest",
        "iris/3/extra",
        "iris@",
        "@champion",
        "iris@v3",
        "iris@latest",
        "iris@a/b",
        "runs:/abc/model",
        "iris@3d",
    ],
)
def test_parse_rejects_malformed_uris_naming_them(uri):
    with pytest.raises(InvalidModelUriError) as info:
        parse_model_uri(uri)
    assert str(info.value) == (
        f"Invalid model URI '{uri}': expected models:/<name>/<version>, models:/<name>@<alias>, "
        "<name>/<version> or <name>@<alias>"
    )
    assert info.value.status_code == 400


def test_validate_alias_rejects_version_lookalikes():
    assert validate_alias("champion") == "champion"
    with pytest.raises(InvalidAliasError) as info:
        validate_alias("v2")
    assert str(info.value).startswith("Invalid alias 'v2': ")
