# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's pure helpers, in-process: tqdm meters, stats lines (docs/dev/formats.md 2.2-2.3),
log prefixes per version (2.1), time formats, --since values and the JSON reader."""

from __future__ import annotations

import json

import pytest

from fakegpu import minijson
from fakegpu.runs import rfc3339
from fakegpu.timeparse import parse_time
from fakegpu.vllm_text import LogScript, VllmVersion, tqdm_meter, v0_prefix_line, v0_stats, v1_stats

NOW = 1795827434.0


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ("Loading safetensors checkpoint shards", 0, 46, 0.0),
            "Loading safetensors checkpoint shards:   0% Completed | 0/46 [00:00<?, ?it/s]",
        ),
        # docs/dev/formats.md 2.1's real line.
        (
            ("Loading safetensors checkpoint shards", 23, 46, 21.1),
            "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:21<00:21,  1.09it/s]",
        ),
        (
            ("Loading safetensors checkpoint shards", 4, 11, 8.0),
            "Loading safetensors checkpoint shards:  36% Completed | 4/11 [00:08<00:14,  2.00s/it]",
        ),
        (
            ("Capturing CUDA graphs (decode, FULL)", 35, 35, 2.8, True),
            "Capturing CUDA graphs (decode, FULL): 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588"
            "\u2588\u2588| 35/35 [00:02<00:00, 12.50it/s]",
        ),
        (
            ("Capturing CUDA graph shapes", 1, 35, 0.41, True),
            "Capturing CUDA graph shapes:   3%|\u258e         | 1/35 [00:00<00:13,  2.44it/s]",
        ),
        (("x", 1, 2, 4000.0), "x:  50% Completed | 1/2 [1:06:40<1:06:40, 4000.00s/it]"),
    ],
)
def test_tqdm_meter(args, expected):
    assert tqdm_meter(*args) == expected


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            v1_stats(6154.6, 27.4, 1, 0, 0.7, 0.0),
            "Engine 000: Avg prompt throughput: 6154.6 tokens/s, Avg generation throughput: 27.4 "
            "tokens/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.7%, Prefix cache hit "
            "rate: 0.0%",
        ),
        (
            v1_stats(1.0, 2.0, 3, 4, 5.0, 6.0, engine_id=1),
            "Engine 001: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, "
            "Running: 3 reqs, Waiting: 4 reqs, GPU KV cache usage: 5.0%, Prefix cache hit rate: 6.0%",
        ),
        (
            v1_stats(1.0, 2.0, 3, 4, 5.0, 6.0, engines=2),
            "2 Engines Aggregated: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 "
            "tokens/s, Running: 3 reqs, Waiting: 4 reqs, GPU KV cache usage: 5.0%, Prefix cache hit "
            "rate: 6.0%",
        ),
        (
            v1_stats(1.0, 2.0, 3, 4, 5.0, kv_fetch=(1, 2, 3)),
            "Engine 000: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, "
            "Running: 3 reqs, Waiting: 4 reqs, KV fetch: 1 waiting to start, 2 in progress, 3 completed "
            "waiting, GPU KV cache usage: 5.0%",
        ),
        (
            v0_stats(1.0, 2.0, 3, 4, 5, 6.0, 7.0),
            "Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, Running: 3 "
            "reqs, Swapped: 4 reqs, Pending: 5 reqs, GPU KV cache usage: 6.0%, CPU KV cache usage: 7.0%.",
        ),
        (v0_prefix_line(25.75, 0.0), "Prefix cache hit rate: GPU: 25.75%, CPU: 0.00%"),
    ],
)
def test_stats_lines(line, expected):
    assert line == expected


@pytest.mark.parametrize(
    "version, colour, process, expected",
    [
        ("0.6.6.post1", False, ("api", 0), "INFO 11-28 00:57:14 metrics.py:467] hello\n"),
        (
            "0.10.1.1",
            True,
            ("api", 0),
            "\x1b[1;36m(APIServer pid=1)\x1b[0;0m INFO 11-28 00:57:14 [metrics.py:467] hello\n",
        ),
        ("0.10.1.1", False, ("engine", 0), "(EngineCore_0 pid=272) INFO 11-28 00:57:14 [metrics.py:467] hello\n"),
        ("0.11.0", False, ("worker", 0), "(EngineCore_DP0 pid=272) INFO 11-28 00:57:14 [metrics.py:467] hello\n"),
        ("0.33.0", False, ("engine", 0), "(EngineCore pid=272) INFO 11-28 00:57:14 [metrics.py:467] hello\n"),
    ],
)
def test_record_prefix_per_version(version, colour, process, expected):
    script = LogScript(VllmVersion(version, colour=colour), NOW)
    script.log(0.0, process, "metrics.py:467", "hello")
    assert script.writes == [(0.0, "stdout", expected)]


def test_multi_line_record_repeats_the_head_from_0_11():
    script = LogScript(VllmVersion("0.11.0"), NOW)
    script.log(0.0, ("api", 0), "core.py:1", "one\ntwo", level="ERROR")
    head = "(APIServer pid=1) ERROR 11-28 00:57:14 [core.py:1] "
    assert script.writes[0][2] == head + "one\r\n" + head + "two\n"


@pytest.mark.parametrize(
    "epoch_ns, fixed, expected",
    [
        (1795827434 * 10**9, True, "2026-11-28T00:57:14.000000000Z"),
        (1795827434 * 10**9 + 123456789, True, "2026-11-28T00:57:14.123456789Z"),
        (1795827434 * 10**9 + 120000000, False, "2026-11-28T00:57:14.12Z"),
        (1795827434 * 10**9, False, "2026-11-28T00:57:14Z"),
    ],
)
def test_rfc3339(epoch_ns, fixed, expected):
    assert rfc3339(epoch_ns, fixed=fixed) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1795827434", 1795827434 * 10**9),
        ("1795827434.5", 1795827434 * 10**9 + 500000000),
        ("10m", int((NOW - 600) * 1e9)),
        ("1h30m", int((NOW - 5400) * 1e9)),
        ("1.5s", int((NOW - 1.5) * 1e9)),
        ("2026-11-28T00:57:14Z", 1795827434 * 10**9),
        ("2026-11-28T00:57:14.25Z", 1795827434 * 10**9 + 250000000),
        ("2026-11-28T01:57:14+01:00", 1795827434 * 10**9),
        ("2026-11-28", 1795824000 * 10**9),
        ("garbage", None),
        ("10x", None),
        ("1.2.3", None),
        ("", None),
    ],
)
def test_since_values(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, -3e2, true, false, null, "x\\u00e9\\ud83d\\ude00\\n\\"\\\\"], "b": {}}',
        "[]",
        ' "s" ',
        '{"scenario": "busy", "started_epoch": 1795827434.907416, "overrides": {}}',
    ],
)
def test_minijson_reads_what_json_reads(text):
    assert minijson.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{bad", "expected a key at offset 1"),
        ('{"a" 1}', "expected ':' at offset 5"),
        ("[1 2]", "expected ',' or ']' at offset 3"),
        ('"open', "unterminated string at offset 1"),
        ("[] x", "extra data at offset 3"),
        ("", "expected a value at offset 0"),
    ],
)
def test_minijson_errors(text, message):
    with pytest.raises(ValueError) as caught:
        minijson.loads(text)
    assert str(caught.value) == message
