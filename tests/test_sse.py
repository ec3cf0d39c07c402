"""The SSE decoder over raw bytes, and the heartbeat wrapper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agents_core.sse import HEARTBEAT, SSEDecoder, encode_json, with_heartbeat


def decode(*chunks: bytes) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    events += list(decoder.close())
    return [(e.event, e.data) for e in events]


def test_frames_with_event_names_and_data() -> None:
    assert decode(b'event: a\ndata: {"x": 1}\n\nevent: done\ndata: [DONE]\n\n') == [
        ("a", '{"x": 1}'),
        ("done", "[DONE]"),
    ]


def test_crlf_comments_and_multiline_data() -> None:
    assert decode(b": ping\r\n\r\nevent: m\r\ndata: one\r\ndata: two\r\n\r\n") == [
        ("m", "one\ntwo")
    ]


def test_utf8_character_split_across_chunks() -> None:
    raw = "data: héllo ✓\n\n".encode()
    split = raw.index("✓".encode()) + 1
    assert decode(raw[:split], raw[split:]) == [("", "héllo ✓")]


def test_cr_split_from_lf_across_chunks() -> None:
    assert decode(b"data: a\r", b"\n\r\n") == [("", "a")]


def test_last_frame_without_blank_line_is_flushed() -> None:
    assert decode(b"event: x\ndata: 1") == [("x", "1")]


def test_encode_json_is_one_compact_line() -> None:
    assert encode_json({"a": "é\n"}, "e") == 'event: e\ndata: {"a":"é\\n"}\n\n'.encode()


def test_heartbeat_fills_idle_gaps_without_losing_frames() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b"1"
        await asyncio.sleep(0.25)
        yield b"2"

    async def collect() -> list[bytes]:
        return [frame async for frame in with_heartbeat(slow(), 0.1)]

    frames = asyncio.run(collect())
    assert frames[0] == b"1" and frames[-1] == b"2"
    assert frames.count(HEARTBEAT) >= 1


def test_long_lines_in_small_chunks() -> None:
    raw = b"data: " + b"x" * 1_000_000 + b"\n\n"
    assert decode(*(raw[i : i + 4096] for i in range(0, len(raw), 4096)))[0][1] == "x" * 1_000_000


def test_every_split_of_a_mixed_stream_decodes_the_same() -> None:
    raw = "event: a\r\ndata: é1\r\rdata: 2\n: c\n\nevent: b\rdata: ✓\r\n\r\ndata: end".encode()
    whole = decode(raw)
    assert whole == [("a", "é1"), ("", "2"), ("b", "✓"), ("", "end")]
    for cut in range(len(raw) + 1):
        assert decode(raw[:cut], raw[cut:]) == whole, cut
    assert decode(*(raw[i : i + 1] for i in range(len(raw)))) == whole


def test_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    assert decode(b"data: a\xffb\n\n") == [("", "a\ufffdb")]


def test_frames_ready_together_go_out_as_one_chunk() -> None:
    async def burst() -> AsyncIterator[bytes]:
        yield b"1"
        yield b"2"
        yield b"3"
        await asyncio.sleep(0.05)
        yield b"4"

    async def collect() -> list[bytes]:
        return [frame async for frame in with_heartbeat(burst(), 10)]

    assert asyncio.run(collect()) == [b"123", b"4"]


def test_a_caller_that_does_not_read_holds_the_stream_back() -> None:
    made: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for index in range(1000):
            made.append(index)
            yield b"x" * 1024

    async def read_one_then_stall() -> None:
        stream = with_heartbeat(endless(), 10)
        await stream.__anext__()
        await asyncio.sleep(0.05)
        await stream.aclose()

    asyncio.run(read_one_then_stall())
    # One chunk handed to the caller and MAX_BUFFERED (64 KiB) waiting: then the producer waits.
    assert 120 <= len(made) <= 140


def test_no_heartbeat_while_frames_keep_coming() -> None:
    async def steady() -> AsyncIterator[bytes]:
        for index in range(8):
            await asyncio.sleep(0.04)
            yield str(index).encode()

    async def collect() -> list[bytes]:
        return [frame async for frame in with_heartbeat(steady(), 1.0)]

    assert asyncio.run(collect()) == [str(index).encode() for index in range(8)]
