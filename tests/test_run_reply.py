"""A run's reply read back: text pieces joined, annotation spans counted from the reply's start."""

from __future__ import annotations

from agents_core.a2a.parts import Files, reply_parts
from agents_core.foundry.types import Annotation, RunReply


def test_joined_reply_counts_annotation_spans_from_its_start() -> None:
    first = Annotation("url_citation", 0, 3, url="https://example.com")
    chart = Annotation(
        "container_file_citation",
        7,
        16,
        file_id="cfile_1",
        container_id="cntr_1",
        filename="chart.png",
    )
    reply = RunReply.joined([("See [1]. ", [first]), ("Chart: chart.png", [chart])])
    assert reply.text == "See [1]. Chart: chart.png"
    assert [(a.start_index, a.end_index) for a in reply.annotations] == [(0, 3), (16, 25)]
    assert reply.text[16:25] == "chart.png"
    parts = reply_parts(reply.text, reply.annotations, Files("https://gw", "agent"))
    assert [part.text for part in parts[:1]] == ["See [1]. Chart: "]
    assert parts[1].filename == "chart.png" and parts[1].url.startswith("https://gw/v1/files/")
    assert len(parts) == 2
