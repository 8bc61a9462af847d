"""The sinks' queues: batches in order, drops counted not waited for, one sink's failure
kept to itself, everything queued written on stop, the record built once for all sinks."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.sinks import Entry, JsonlSink, SinkQueue, TrafficLog, build
from gpt2giga.observe.traffic import Recorder, TrafficRecord
from tests.conftest import build_app, make_settings, over

RECORDER = Recorder(make_settings())


class Memory:
    """A sink in memory: it can be made to fail, or to hang until released."""

    def __init__(self, name: str = "memory", fail: int = 0) -> None:
        self.name = name
        self.fail = fail
        self.gate: asyncio.Event | None = None
        self.writing = asyncio.Event()
        self.batches: list[list[TrafficRecord]] = []
        self.attempts = 0
        self.closed = False

    async def open(self) -> None:
        return None

    async def write(self, records: list[TrafficRecord]) -> int:
        self.attempts += 1
        self.writing.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.batches.append(records)
        return 0

    async def close(self) -> None:
        self.closed = True

    @property
    def request_ids(self) -> list[str]:
        return [r.request_id for batch in self.batches for r in batch]


def exchange(n: int) -> Exchange:
    ex = Exchange(f"req-{n}", {})
    ex.method, ex.route, ex.dialect, ex.status = "POST", "/chat/completions", "openai", 200
    return ex


Drops = list[tuple[str, str, int]]


def queue(sink: Memory, drops: Drops, size: int = 100, batch: int = 3) -> SinkQueue:
    return SinkQueue(
        sink,
        RECORDER,
        queue_size=size,
        batch_size=batch,
        on_drop=lambda s, reason, n: drops.append((s, reason, n)),
        on_written=lambda s, n: None,
        retry_delays=(0.0, 0.0),
    )


async def test_batches_keep_the_order_and_stop_writes_everything_queued() -> None:
    sink, drops = Memory(), []
    q = queue(sink, drops)
    await q.start()
    for n in range(10):
        q.submit(Entry(exchange(n)))
    await q.stop()
    assert sink.request_ids == [f"req-{n}" for n in range(10)]
    assert all(len(b) <= 3 for b in sink.batches)
    assert (q.written, drops, sink.closed) == (10, [], True)


async def test_a_full_queue_drops_and_counts_instead_of_blocking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, drops = Memory(), []
    sink.gate = asyncio.Event()
    q = queue(sink, drops, size=2, batch=1)
    await q.start()
    q.submit(Entry(exchange(0)))
    await sink.writing.wait()  # the writer hangs on record 0
    with caplog.at_level(logging.WARNING, "gpt2giga.traffic"):
        for n in range(1, 10):
            q.submit(Entry(exchange(n)))  # returns at once: 2 fit, 7 are dropped
    assert q.dropped == {"queue_full": 7} and sum(n for *_, n in drops) == 7
    assert "dropped by the memory sink (queue_full)" in caplog.text  # logged, once
    assert caplog.text.count("dropped") == 1
    sink.gate.set()
    await q.stop()
    assert sink.request_ids == ["req-0", "req-1", "req-2"]


async def test_a_failing_write_is_retried_then_dropped_and_counted() -> None:
    flaky, broken, drops = Memory("flaky", fail=2), Memory("broken", fail=99), []
    q1, q2 = queue(flaky, drops), queue(broken, drops)
    log = TrafficLog([q1, q2], capture=False, wait=False)
    await log.start()
    log.submit(exchange(1))
    await log.stop()
    assert flaky.request_ids == ["req-1"] and flaky.attempts == 3  # two failures, then stored
    assert broken.batches == [] and broken.attempts == 3  # three attempts, then given up
    assert drops == [("broken", "write_failed", 1)]
    assert log.dropped == 1


async def test_one_hung_sink_holds_up_no_other_sink_and_no_request() -> None:
    hung, fine, drops = Memory("hung"), Memory("fine"), []
    hung.gate = asyncio.Event()
    fine_queue = queue(fine, drops)
    log = TrafficLog([queue(hung, drops, size=5), fine_queue], capture=False, wait=False)
    await log.start()
    for n in range(20):
        log.submit(exchange(n))  # never waits, whatever the hung sink does
    await asyncio.wait_for(fine_queue.stop(), 5)  # the fine sink finishes while the other hangs
    assert fine.request_ids == [f"req-{n}" for n in range(20)]
    assert ("hung", "queue_full", 1) in drops
    hung.gate.set()
    await log.stop()


async def test_both_sinks_get_the_same_record_built_once() -> None:
    a, b, drops = Memory("a"), Memory("b"), []
    log = TrafficLog([queue(a, drops), queue(b, drops)], capture=False, wait=False)
    await log.start()
    log.submit(exchange(1))
    await log.stop()
    assert a.batches[0][0] is b.batches[0][0]  # one record, one id in every sink


async def test_without_drop_on_backpressure_the_request_waits_for_room() -> None:
    sink, drops = Memory(), []
    sink.gate = asyncio.Event()
    q = queue(sink, drops, size=1, batch=1)
    log = TrafficLog([q], capture=False, wait=True)
    await log.start()
    await log.put(exchange(0))
    await sink.writing.wait()
    await log.put(exchange(1))  # fills the queue
    third = asyncio.ensure_future(log.put(exchange(2)))
    await asyncio.sleep(0.05)
    assert not third.done()  # waiting for room, not dropped
    sink.gate.set()
    await asyncio.wait_for(third, 5)
    await log.stop()
    assert sink.request_ids == ["req-0", "req-1", "req-2"] and drops == []


async def test_a_sink_stuck_at_stop_loses_only_what_is_left_and_says_so() -> None:
    sink, drops = Memory(), []
    sink.gate = asyncio.Event()
    q = queue(sink, drops, batch=1)
    await q.start()
    for n in range(3):
        q.submit(Entry(exchange(n)))
    await sink.writing.wait()
    await q.stop(within=0.1)
    assert q.dropped == {"shutdown": 3}  # the one being written and the two waiting
    q.submit(Entry(exchange(9)))  # after stop: counted, never queued
    assert q.dropped == {"shutdown": 4}


async def test_the_jsonl_file_is_private_and_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "t.jsonl"
    path.parent.mkdir()
    path.write_text('{"old":1}\n')
    path.chmod(0o644)
    sink = JsonlSink(str(path))
    await sink.open()
    await sink.write([RECORDER.record(exchange(1))])
    await sink.close()
    assert path.read_text().startswith('{"old":1}\n{"created_at":')
    assert path.stat().st_mode & 0o777 == 0o600


async def test_the_jsonl_sink_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "t.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        await JsonlSink(str(tmp_path / "t.jsonl")).open()


def test_no_sink_no_traffic_log() -> None:
    def hook(*_: object) -> None:
        return None

    assert build(make_settings(), None, hook, hook) is None
    off = make_settings(GPT2GIGA_TRAFFIC_LOG_SINK="jsonl")  # not enabled
    assert build(off, None, hook, hook) is None
    noop = make_settings(GPT2GIGA_TRAFFIC_LOG_ENABLED="1", GPT2GIGA_TRAFFIC_LOG_SINK="noop")
    assert build(noop, None, hook, hook) is None


async def test_drops_show_in_the_metrics_by_sink_and_reason(tmp_path: Path) -> None:
    app = build_app(
        GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
        GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(tmp_path / "t.jsonl"),
        GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE="1",
        GPT2GIGA_METRICS_ENABLED="true",
    )
    # Not started: nothing drains the queue, so the second record finds it full.
    async with over(app) as c:
        await c.get("/health")
        await c.get("/health")
        text = (await c.get("/metrics")).text
    assert 'gpt2giga_traffic_log_dropped_total{reason="queue_full",sink="jsonl"} 1.0' in text


async def test_the_app_waits_for_room_when_told_not_to_drop(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    app = build_app(
        GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
        GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(path),
        GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE="1",
        GPT2GIGA_TRAFFIC_LOG_BATCH_SIZE="1",
        GPT2GIGA_TRAFFIC_LOG_DROP_ON_BACKPRESSURE="false",
    )
    await app.startup()
    async with over(app) as c:
        answers = await asyncio.gather(*(c.get("/health") for _ in range(20)))
    await app.shutdown()
    assert all(a.status_code == 200 for a in answers)
    written = [line for line in path.read_text().splitlines() if line]
    assert len(written) == 20
    assert app.observers.traffic is not None and app.observers.traffic.dropped == 0
