"""The ASGI edge on its own: the capped body reader, its lingering after a 413, body checks."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from gpt2giga import errors
from gpt2giga.asgi import LINGER_BYTES, BodyTooLarge, discard, parse, read_body


class Body:
    """A receive() that hands out `chunks`, then (`end`) stops, says the client left, or waits."""

    def __init__(self, *chunks: bytes, end: str = "complete") -> None:
        self.chunks = list(chunks)
        self.read = 0
        self.end = end

    async def __call__(self) -> dict[str, Any]:
        if not self.chunks:
            if self.end == "disconnect":
                return {"type": "http.disconnect"}
            await asyncio.Event().wait()  # a client that sends nothing more
        chunk = self.chunks.pop(0)
        self.read += 1
        more = bool(self.chunks) or self.end != "complete"
        return {"type": "http.request", "body": chunk, "more_body": more}


def scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "headers": list(headers)}


async def test_a_body_in_parts_is_joined_and_one_part_is_returned_as_is() -> None:
    assert await read_body(scope(), Body(b"ab", b"cd", b"e"), 10) == b"abcde"
    one = b"x" * 10
    assert await read_body(scope(), Body(one), 10) is one


@pytest.mark.parametrize(
    ("headers", "chunks", "lingers"),
    [
        # Declared too large: the body is still to come, so the 413 lingers for it.
        ([(b"content-length", b"11")], [b"x" * 11], True),
        # ... unless the client waits for `100 Continue` and will send nothing.
        ([(b"content-length", b"11"), (b"expect", b"100-Continue")], [], False),
        # ... or declares more than lingering would ever read.
        ([(b"content-length", str(LINGER_BYTES + 1).encode())], [], False),
        # Chunked, no length: over the limit with more to come, or at the last part.
        ([], [b"x" * 6, b"x" * 6, b"x"], True),
        ([], [b"x" * 6, b"x" * 6], False),
        ([], [b"x" * 11], False),
    ],
)
async def test_too_large_says_whether_the_rest_is_on_its_way(
    headers: list[tuple[bytes, bytes]], chunks: list[bytes], lingers: bool
) -> None:
    with pytest.raises(errors.PayloadTooLarge) as caught:
        await read_body(scope(*headers), Body(*chunks), 10)
    assert isinstance(caught.value, BodyTooLarge) is lingers
    assert caught.value.message == "Request body is larger than the gateway's limit of 10 bytes"
    assert caught.value.status == 413


async def test_content_length_that_is_not_a_number_is_a_400() -> None:
    with pytest.raises(errors.BadRequest, match="Content-Length is not a number"):
        await read_body(scope((b"content-length", b"ten")), Body(b"x"), 10)


async def test_a_client_leaving_mid_body_cancels_the_request() -> None:
    with pytest.raises(asyncio.CancelledError):
        await read_body(scope(), Body(b"ab", b"cd", end="disconnect"), 10)


async def test_discard_reads_to_the_end_of_the_body() -> None:
    body = Body(b"a" * 5, b"b" * 5, b"c")
    assert await discard(body) == 11
    assert body.chunks == []


async def test_discard_stops_at_its_byte_bound() -> None:
    body = Body(*[b"x" * 4] * 10)
    assert await discard(body, most=10) == 12  # three reads; the fourth is never asked for
    assert body.read == 3


async def test_discard_stops_at_its_time_bound_and_when_the_client_leaves() -> None:
    quiet = Body(b"xy", end="silent")  # more was announced, nothing comes
    assert await asyncio.wait_for(discard(quiet, seconds=0.05), 5) == 2
    assert await discard(Body(b"xyz", end="disconnect")) == 3


class Item(msgspec.Struct):
    role: str


_decode = msgspec.json.Decoder(Item).decode


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"role": "\xff"}', "Request body is not valid UTF-8: invalid start byte at byte 10"),
        # Where msgspec never looks: an unknown field.
        (b'{"role": "u", "x": "\xc0\xaf"}', "not valid UTF-8: invalid start byte at byte 20"),
        (b'{"role": "u", "x": "\xe2\x82"}', "not valid UTF-8: invalid continuation byte at"),
        (b'{"role": "u"}\xe2\x82', "not valid UTF-8: unexpected end of data at byte 13"),
        (b'{"role": "u", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    ],
)
async def test_parse_names_the_encoding_and_the_depth(body: bytes, message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        parse(_decode, body)
    assert message in caught.value.message
    assert caught.value.param is None


async def test_parse_takes_utf8_beyond_ascii() -> None:
    assert parse(_decode, '{"role": "пользователь 🙂"}'.encode()) == Item(role="пользователь 🙂")
