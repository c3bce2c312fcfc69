"""The incremental SSE parser: line endings, fields, splits anywhere, end of stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpsniff.capture.sse import SseEvent, SseParser, parse_all


def feed_chunks(chunks: list[bytes]) -> list[SseEvent]:
    p = SseParser()
    out: list[SseEvent] = []
    for c in chunks:
        out += p.feed(c)
    return out + p.flush()


def test_basic_fields_and_multiline_data():
    evs = parse_all(b"event: message\nid: 7\nretry: 1500\ndata: {\"a\":\ndata:  1}\n\n")
    assert evs == [SseEvent(data='{"a":\n 1}', id="7", event="message", retry=1500)]


def test_crlf_cr_and_lf_line_endings_give_the_same_events():
    lf = b"id: 1\ndata: a\n\ndata: b\ndata: c\n\n"
    assert parse_all(lf.replace(b"\n", b"\r\n")) == parse_all(lf) == parse_all(lf.replace(b"\n", b"\r"))
    assert [e.data for e in parse_all(lf)] == ["a", "b\nc"]


def test_crlf_split_between_cr_and_lf_is_one_line_ending():
    p = SseParser()
    assert p.feed(b"data: x\r") == []
    # the LF that follows belongs to the CR: it must not count as a blank line
    assert p.feed(b"\n") == []
    assert [e.data for e in p.feed(b"\r\n")] == ["x"]


def test_mixed_cr_then_lf_is_two_line_endings_when_lf_is_separate():
    # "\r" "\n" in one chunk is CRLF (one ending); "\n\r" is two endings -> dispatch
    assert [e.data for e in parse_all(b"data: a\n\rdata: b\r\n\r\n")] == ["a", "b"]


def test_comments_are_not_events_and_are_counted():
    p = SseParser()
    evs = p.feed(b": keep-alive\n\n:another\n\ndata: x\n: inside\n\n")
    assert [e.data for e in evs] == ["x"]
    assert p.comments == 3


def test_priming_event_with_id_and_empty_data_is_recorded():
    evs = parse_all(b"id: prime-1\ndata:\n\nid: prime-2\ndata\n\n")
    assert [(e.id, e.data) for e in evs] == [("prime-1", ""), ("prime-2", "")]


def test_id_only_and_retry_only_blocks_are_events():
    evs = parse_all(b"id: 5\n\nretry: 3000\n\n")
    assert [(e.id, e.retry, e.data) for e in evs] == [("5", None, ""), (None, 3000, "")]


def test_retry_must_be_an_integer():
    evs = parse_all(b"retry: 12a\ndata: x\n\nretry: -5\ndata: y\n\nretry: \xc2\xb2\ndata: z\n\n")
    assert [e.retry for e in evs] == [None, None, None]


def test_unknown_fields_and_no_space_after_colon():
    evs = parse_all(b"foo: bar\ndata:no-space\ndata:  two-spaces\n\nfoo: only-unknown\n\n")
    assert len(evs) == 1
    assert evs[0].data == "no-space\n two-spaces"


def test_id_with_nul_is_ignored():
    assert parse_all(b"id: a\x00b\ndata: x\n\n")[0].id is None


def test_bom_is_stripped_even_when_split():
    stream = b"\xef\xbb\xbfdata: x\n\n"
    assert [e.data for e in feed_chunks([stream[:1], stream[1:2], stream[2:]])] == ["x"]
    assert [e.data for e in parse_all(stream)] == ["x"]
    # only one BOM, and only at the start
    evs = parse_all(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n")
    assert evs == []  # the second BOM makes the field name unknown


def test_short_stream_that_is_a_bom_prefix():
    assert feed_chunks([b"\xef\xbb"]) == []
    assert [e.data for e in feed_chunks([b"\xef\xbb", b"\xbfdata: q"])] == ["q"]
    # a first byte that only looks like a BOM start is kept (here it spoils the field name)
    assert feed_chunks([b"\xef", b"data: q\n\n"]) == []
    assert [e.data for e in feed_chunks([b"d", b"ata: q"])] == ["q"]


def test_unterminated_last_event_is_flushed_and_marked():
    p = SseParser()
    assert [e.data for e in p.feed(b"data: done\n\ndata: partial\nid: 9")] == ["done"]
    tail = p.flush()
    assert len(tail) == 1 and tail[0].data == "partial" and tail[0].id == "9"
    assert tail[0].unterminated and tail[0].truncated
    assert p.flush() == []


def test_flush_without_pending_fields_gives_nothing():
    p = SseParser()
    p.feed(b"data: a\n\n: comment without newline")
    assert p.flush() == []


def test_utf8_split_inside_a_character():
    raw = "data: héllo ✓\n\n".encode()
    i = raw.index("✓".encode()) + 1
    assert [e.data for e in feed_chunks([raw[:i], raw[i:]])] == ["héllo ✓"]


def test_invalid_utf8_is_replaced_not_fatal():
    assert parse_all(b"data: \xff\xfe ok\n\n")[0].data == "\ufffd\ufffd ok"


def test_overlong_line_is_cut_and_marked():
    p = SseParser(max_line=16)
    evs = p.feed(b"data: " + b"x" * 100 + b"\n\n" + b"data: short\n\n")
    assert evs[0].cut and evs[0].truncated and len(evs[0].data) == 10
    assert evs[1].data == "short" and not evs[1].truncated


@pytest.mark.parametrize("size", [15, 16, 17, 40])
def test_overlong_line_is_cut_alike_whole_split_and_byte_by_byte(size):
    """A line the chunk holds whole takes a shorter path than one that began in an earlier chunk:
    both cut at max_line and mark the event the same way."""
    data = b"data: " + b"y" * (size - 6) + b"\r\nid: zz\n\ndata: ok\r\r"  # a first line of `size` bytes
    whole = SseParser(max_line=16)
    evs = whole.feed(data) + whole.flush()
    for step in (1, 3, 7):
        p = SseParser(max_line=16)
        split = [e for i in range(0, len(data), step) for e in p.feed(data[i : i + step])] + p.flush()
        assert split == evs
    assert [e.cut for e in evs] == [size > 16, False] and evs[-1].data == "ok"


# -- property: any split of a valid stream gives the same events as feeding it whole ------------

_value = st.text(alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=12)
_field = st.one_of(
    st.builds(lambda v: f"data: {v}", _value),
    st.builds(lambda v: f"data:{v}", _value),
    st.just("data"),
    st.builds(lambda v: f"id: {v}", _value),
    st.builds(lambda v: f"event: {v}", _value),
    st.builds(lambda n: f"retry: {n}", st.integers(0, 10**6)),
    st.builds(lambda v: f": {v}", _value),
    st.builds(lambda v: f"x-unknown: {v}", _value),
)
_event = st.lists(_field, min_size=1, max_size=5)


@st.composite
def streams(draw) -> bytes:
    events = draw(st.lists(_event, max_size=6))
    newlines = st.sampled_from(["\n", "\r", "\r\n"])
    out = []
    for fields in events:
        for f in fields:
            out.append(f + draw(newlines))
        out.append(draw(newlines))
    if draw(st.booleans()) and events:  # an unterminated tail
        out.append(draw(_field))
    prefix = "\ufeff" if draw(st.booleans()) else ""
    return (prefix + "".join(out)).encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(data=streams(), cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_split_gives_the_same_events(data: bytes, cuts: list[int]):
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0] + points, points + [len(data)])]
    assert feed_chunks(chunks) == parse_all(data)


@settings(max_examples=200, deadline=None)
@given(data=streams())
def test_byte_by_byte_equals_whole(data: bytes):
    assert feed_chunks([data[i : i + 1] for i in range(len(data))]) == parse_all(data)


def test_property_streams_are_not_trivial():
    """Guards the properties above: the generator must produce streams with several events,
    every line ending and a BOM, or they would pass on empty input; and whole streams that end a
    line (a chunk of whole lines takes the parser's short path: the splits take the long one)."""
    seen = {"events>=3": 0, "crlf": 0, "cr": 0, "bom": 0, "ends-lf": 0}

    @settings(max_examples=300, deadline=None, database=None)
    @given(data=streams())
    def sample(data: bytes) -> None:
        evs = parse_all(data)
        seen["events>=3"] += len(evs) >= 3
        seen["crlf"] += b"\r\n" in data
        seen["cr"] += b"\r" in data.replace(b"\r\n", b"")
        seen["bom"] += data.startswith(b"\xef\xbb\xbf")
        seen["ends-lf"] += data.endswith(b"\n")

    sample()
    assert all(n >= 10 for n in seen.values()), seen
