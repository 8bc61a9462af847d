"""The trace decided when a request arrives: W3C traceparent rules and the sampling bound."""

from __future__ import annotations

import pytest

from gpt2giga.observe.spans import Parent, Sampler, Trace, parse_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (f"00-{TRACE}-{SPAN}-01", Parent(TRACE, SPAN, True)),
        (f"00-{TRACE}-{SPAN}-00", Parent(TRACE, SPAN, False)),
        (f"00-{TRACE}-{SPAN}-03", Parent(TRACE, SPAN, True)),  # other flags are kept apart
        (f"01-{TRACE}-{SPAN}-01-future", Parent(TRACE, SPAN, True)),  # a later version's tail
        (f"00-{TRACE}-{SPAN}-01-extra", None),  # version 00 has exactly four fields
        (f"ff-{TRACE}-{SPAN}-01", None),
        (f"00-{'0' * 32}-{SPAN}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE.upper()}-{SPAN}-01", None),  # lower-case hex only
        ("garbage", None),
    ],
)
def test_traceparent_follows_the_w3c_rules(header: str, parsed: Parent | None) -> None:
    assert parse_traceparent(header) == parsed


def headers(traceparent: str | None, tracestate: str | None = None) -> list[tuple[bytes, bytes]]:
    found = []
    if traceparent is not None:
        found.append((b"traceparent", traceparent.encode()))
    if tracestate is not None:
        found.append((b"tracestate", tracestate.encode()))
    return found


def test_a_sampled_client_trace_is_continued_with_the_state_it_carries() -> None:
    ex = Sampler(0.0).open(headers(f"00-{TRACE}-{SPAN}-01", "vendor=1"))
    assert ex.trace is not None
    assert (ex.trace.trace_id, ex.trace.parent_id) == (TRACE, SPAN)
    assert ex.upstream_headers["tracestate"] == "vendor=1"


def test_an_unsampled_client_trace_passes_through_untouched() -> None:
    sent = f"00-{TRACE}-{SPAN}-00"
    ex = Sampler(1.0).open(headers(sent, "vendor=1"))
    assert ex.trace is None
    assert ex.upstream_headers["traceparent"] == sent
    assert ex.upstream_headers["tracestate"] == "vendor=1"


def test_an_invalid_traceparent_starts_a_new_trace_without_its_state() -> None:
    ex = Sampler(1.0).open(headers("00-nonsense", "vendor=1"))
    assert ex.trace is not None and ex.trace.parent_id == ""
    assert ex.upstream_headers["traceparent"] == ex.trace.traceparent(ex.trace.span_id)
    assert "tracestate" not in ex.upstream_headers


def test_the_ratio_keeps_the_traces_whose_low_64_bits_fall_under_it() -> None:
    """TraceIdRatioBased's rule: every process keeps the same traces."""
    sampler = Sampler(0.25)
    assert sampler.bound == 1 << 62
    kept = [Sampler(0.25).open([]) for _ in range(4000)]
    share = sum(ex.trace is not None for ex in kept) / len(kept)
    assert 0.2 < share < 0.3
    for ex in kept:
        tp = ex.upstream_headers["traceparent"]
        low = int(tp.split("-")[1][16:], 16)
        assert (ex.trace is not None) == (low < sampler.bound)
        assert tp.endswith("-01" if ex.trace is not None else "-00")


def test_a_call_after_a_failed_one_to_the_same_place_is_a_resend() -> None:
    trace = Trace(TRACE, "")
    first = trace.call("POST", "giga.test", "/api/v1/chat/completions", "chat")
    first.status = 503
    second = trace.call("POST", "giga.test", "/api/v1/chat/completions", "chat")
    second.status = 200
    third = trace.call("POST", "giga.test", "/api/v1/chat/completions", "chat")
    assert (first.attempt, second.attempt, third.attempt) == (0, 1, 0)
    assert len({trace.span_id, first.span_id, second.span_id, third.span_id}) == 4
