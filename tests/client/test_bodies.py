"""The cheap whole-document check used for boards, against a real board cut in many places."""

from __future__ import annotations

import json

import pytest

from metawatch_dagster.blizzard.bodies import InvalidBody, check_json_object_shape


def test_a_real_board_passes_as_received(board_body: bytes):
    check_json_object_shape(board_body)
    check_json_object_shape(b"\n" + json.dumps(json.loads(board_body), indent=2).encode() + b"\n")


def test_every_cut_of_a_board_is_refused(board_body: bytes):
    cuts = range(1, len(board_body) - 1, len(board_body) // 997)
    for cut in cuts:
        with pytest.raises(InvalidBody):
            check_json_object_shape(board_body[:cut])


def test_cuts_that_end_on_a_closing_brace_are_refused(board_body: bytes):
    closing = [i + 1 for i, byte in enumerate(board_body[:-1]) if byte == ord("}")]
    for cut in closing[:: max(1, len(closing) // 50)]:
        with pytest.raises(InvalidBody):
            check_json_object_shape(board_body[:cut])


def test_braces_inside_strings_do_not_refuse_a_valid_body():
    check_json_object_shape(b'{"name":"}{{weird}","groups":[{"a":1}]}')


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"<!DOCTYPE html><html>502</html>", b"[1,2]", b'{"a":1', b'{"a":"}"'],
)
def test_bodies_that_are_not_a_whole_object_are_refused(body: bytes):
    with pytest.raises(InvalidBody):
        check_json_object_shape(body)
