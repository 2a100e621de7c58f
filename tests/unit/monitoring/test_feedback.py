"""monitoring.feedback: feedback bodies parsed into label items, every error message exactly, results encoded."""

from __future__ import annotations

import json

import pytest

from monitoring.errors import FeedbackInvalidError
from monitoring.feedback import MAX_LABELS, encode_result, parse_feedback
from monitoring.labels import JoinedLabel, JoinResult, LabelItem
from rayship.errors import InvalidInputError

pytestmark = pytest.mark.unit


def body(*items: object, **top: object) -> bytes:
    return json.dumps({"labels": list(items), **top}).encode()


def error_of(raw: bytes) -> FeedbackInvalidError:
    with pytest.raises(FeedbackInvalidError) as exc:
        parse_feedback(raw, "iris")
    return exc.value


def test_a_body_parses_into_label_items_in_order() -> None:
    raw = b'{"labels": [{"request_id": "abc", "label": 1}, {"request_id": "def", "label": [0, 2]}]}'

    assert parse_feedback(raw, "iris") == [
        LabelItem(request_id="abc", label=1),
        LabelItem(request_id="def", label=[0, 2]),
    ]


def test_label_values_keep_their_json_types() -> None:
    raw = body({"label": [True, 1, 1.0, "1"], "request_id": "a"}, {"request_id": "b", "label": 2.5})

    items = parse_feedback(raw, "m")

    assert [type(value) for value in items[0].rows()] == [bool, int, float, str]
    assert items[1].label == 2.5


def test_the_longest_request_id_and_string_label_and_the_most_labels_are_accepted() -> None:
    longest = parse_feedback(body({"request_id": "x" * 256, "label": "y" * 256}), "m")
    most = parse_feedback(body(*({"request_id": str(i), "label": 0} for i in range(MAX_LABELS))), "m")

    assert longest[0].request_id == "x" * 256
    assert len(most) == MAX_LABELS == 10_000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "The feedback body is not valid JSON"),
        (b"", "The feedback body is not valid JSON"),
        (b"\xff\xfe\xfa", "The feedback body is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "The feedback body is nested too deeply"),
        (b"[]", "The feedback body must be an object with a 'labels' list"),
        (b'{"label": []}', "The feedback body must be an object with a 'labels' list"),
        (b'{"labels": {"request_id": "a", "label": 1}}', "The feedback body must be an object with a 'labels' list"),
        (b'{"labels": null}', "The feedback body must be an object with a 'labels' list"),
        (b'{"labels": [], "model": "iris"}', "The feedback body has an unknown field 'model'"),
        (b'{"labels": []}', "The feedback body has no labels"),
        (
            body(*({"request_id": str(i), "label": 0} for i in range(10_001))),
            "The feedback body has 10001 labels; at most 10000 are accepted at once",
        ),
    ],
    ids=lambda value: value[:40] if isinstance(value, bytes) else None,
)
def test_body_level_errors_are_named(raw: bytes, message: str) -> None:
    error = error_of(raw)

    assert str(error) == message
    assert error.item is None


OK = {"request_id": "ok", "label": 0}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([OK, OK, {"request_id": "c"}], "Feedback item 2: 'label' is missing"),
        ([{"label": 1}], "Feedback item 0: 'request_id' is missing"),
        ([OK, OK, OK, {"request_id": "d", "lable": 1}], "Feedback item 3: unknown field 'lable'"),
        ([{"request_id": "a", "label": 1, "version": "2"}], "Feedback item 0: unknown field 'version'"),
        ([OK, "abc"], "Feedback item 1: must be an object with 'request_id' and 'label'"),
        ([OK, None], "Feedback item 1: must be an object with 'request_id' and 'label'"),
        ([[1, 2]], "Feedback item 0: must be an object with 'request_id' and 'label'"),
    ],
)
def test_item_errors_name_the_index_and_the_field(items: list, message: str) -> None:
    error = error_of(body(*items))

    assert str(error) == message
    assert error.item == int(message.split()[2].rstrip(":"))


@pytest.mark.parametrize("request_id", ["", "x" * 257, 5, None, ["a"]], ids=repr)
def test_a_request_id_must_be_a_short_non_empty_string(request_id: object) -> None:
    error = error_of(body({"request_id": request_id, "label": 1}))

    assert str(error) == "Feedback item 0: 'request_id' must be a non-empty string of at most 256 characters"


NOT_A_LABEL = "Feedback item 1: 'label' must be a number, string, boolean or a list of them"


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (None, NOT_A_LABEL),
        ({"class": 1}, NOT_A_LABEL),
        ([[0], [1]], NOT_A_LABEL),
        ([0, None], NOT_A_LABEL),
        ([0, {"a": 1}], NOT_A_LABEL),
        ([], "Feedback item 1: 'label' is an empty list; give one label per row"),
        ("y" * 257, "Feedback item 1: 'label' strings must be at most 256 characters"),
        (["a", "y" * 257], "Feedback item 1: 'label' strings must be at most 256 characters"),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_a_label_must_be_a_scalar_or_a_flat_list_of_them(label: object, message: str) -> None:
    assert str(error_of(body(OK, {"request_id": "b", "label": label}))) == message


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("NaN", "Feedback item 0: 'label' must be finite, got nan"),
        ("Infinity", "Feedback item 0: 'label' must be finite, got inf"),
        ("[1, -Infinity]", "Feedback item 0: 'label' must be finite, got -inf"),
    ],
)
def test_non_finite_numbers_are_rejected(label: str, message: str) -> None:
    # Python's json reads these non-standard literals; a label must still be a finite number.
    raw = f'{{"labels": [{{"request_id": "a", "label": {label}}}]}}'.encode()

    assert str(error_of(raw)) == message


def test_the_error_is_a_400_that_remembers_the_model_and_the_reason() -> None:
    error = error_of(body({"request_id": "a"}))

    assert isinstance(error, InvalidInputError) and error.status_code == 400
    assert (error.model, error.reason, error.item) == ("iris", "'label' is missing", 0)


def test_the_first_problem_is_reported() -> None:
    error = error_of(body({"request_id": "", "label": None}, {"label": 1}))

    assert str(error) == "Feedback item 0: 'request_id' must be a non-empty string of at most 256 characters"


def test_a_join_result_encodes_its_counts_and_mismatched_ids() -> None:
    pair = JoinedLabel(request_id="a", version="1", predictions=[1], labels=[1], delay_s=2.0)
    result = JoinResult(accepted=1, unknown=2, expired=3, duplicate=4, mismatched=["x", "y"], joined=[pair])

    encoded = encode_result(result)

    assert encoded == {"accepted": 1, "unknown": 2, "expired": 3, "duplicate": 4, "mismatched": ["x", "y"]}
    assert json.loads(json.dumps(encoded)) == encoded
