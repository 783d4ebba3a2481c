"""File formats: twcs, ndjson, xv2 — good records, every kind of bad record, gzip, sniffing."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veille.sources.base import MAX_TEXT_CHARS, BadRecord, NormalizedPost, NormalizeError, RawRecord
from veille.sources.formats import FORMATS, get_format, open_input, sniff_format
from veille.sources.formats.twcs import parse_twitter_date
from veille.sources.formats.xv2 import Xv2Format

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "formats"
TWCS_HEADER = b"tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
DATE = b"Tue Oct 31 22:10:47 +0000 2017"


def read(name: str, data: bytes, **kw) -> list[RawRecord | BadRecord]:
    fmt = Xv2Format(**kw) if kw else get_format(name)
    return list(fmt.read(io.BytesIO(data)))


def read_file(name: str, path: Path) -> list[RawRecord | BadRecord]:
    with open_input(path) as stream:
        return list(get_format(name).read(stream))


def outcome(fmt_name: str, records, fmt=None) -> list[tuple]:
    """(kind, line, detail) per record: ("ok", line, id) / ("bad", line, reason) / ("norm", line, reason)."""
    fmt = fmt or get_format(fmt_name)
    out = []
    for rec in records:
        if isinstance(rec, BadRecord):
            out.append(("bad", rec.line, rec.reason))
            continue
        try:
            post = fmt.normalize(rec.payload)
        except NormalizeError as exc:
            out.append(("norm", rec.line, str(exc)))
        else:
            out.append(("ok", rec.line, post.external_id))
    return out


# ---- registry, open_input, sniff_format ---------------------------------------------------------


def test_registry_has_the_three_formats():
    assert set(FORMATS) == {"twcs", "ndjson", "xv2"}
    for name, fmt in FORMATS.items():
        assert fmt.name == name
        assert get_format(name) is fmt


def test_get_format_with_options():
    fmt = get_format("xv2", own_handle="@AlpinaCare")
    assert isinstance(fmt, Xv2Format) and fmt is not FORMATS["xv2"]
    assert fmt.own_handle == "alpinacare"
    with pytest.raises(ValueError, match="bad options for the twcs format"):
        get_format("twcs", own_handle="x")


def test_get_format_unknown_names_the_known_ones():
    with pytest.raises(ValueError) as err:
        get_format("csv")
    assert "'csv'" in str(err.value)
    assert "ndjson, twcs, xv2" in str(err.value)


def test_open_input_plain_and_gzip_by_magic_not_extension(tmp_path):
    data = (FIXTURES / "twcs_sample.csv").read_bytes()
    plain_named_gz = tmp_path / "looks.csv.gz"
    plain_named_gz.write_bytes(data)
    gz_without_ext = tmp_path / "export.csv"
    gz_without_ext.write_bytes(gzip.compress(data))
    gz_named = tmp_path / "export2.csv.gz"
    gz_named.write_bytes(gzip.compress(data))
    for path in (plain_named_gz, gz_without_ext, gz_named):
        with open_input(path) as stream:
            assert stream.read() == data
    assert [r.external_id for r in read_file("twcs", gz_without_ext)] == \
        [r.external_id for r in read_file("twcs", FIXTURES / "twcs_sample.csv")]


def test_open_input_clear_errors(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        open_input(missing)
    with pytest.raises(ValueError, match="directory"):
        open_input(tmp_path)


def test_truncated_gzip_keeps_the_records_before_the_break(tmp_path):
    rows = b"".join(b'%d,8000%d,True,%s,"text %d",,\n' % (i, i, DATE, i) for i in range(1, 2001))
    blob = gzip.compress(TWCS_HEADER + rows)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(blob[: len(blob) // 2])
    records = read_file("twcs", path)
    good = [r for r in records if isinstance(r, RawRecord)]
    assert len(good) > 100
    last = records[-1]
    assert isinstance(last, BadRecord)
    assert "could not be read past line" in last.reason
    assert last.location == "end of input"


def test_sniff_format(tmp_path):
    assert sniff_format(FIXTURES / "twcs_sample.csv") == "twcs"
    assert sniff_format(FIXTURES / "twcs_malformed.csv") == "twcs"
    assert sniff_format(FIXTURES / "posts.ndjson") == "ndjson"
    assert sniff_format(FIXTURES / "xv2_search.json") == "xv2"
    assert sniff_format(FIXTURES / "xv2_pages.ndjson") == "xv2"
    gz = tmp_path / "pages.bin"
    gz.write_bytes(gzip.compress((FIXTURES / "xv2_pages.ndjson").read_bytes()))
    assert sniff_format(gz) == "xv2"
    headerless = tmp_path / "noheader.csv"
    headerless.write_bytes(b'5,AlpinaCare,False,' + DATE + b',"hi",,\n')
    assert sniff_format(headerless) == "twcs"
    other = tmp_path / "other.csv"
    other.write_text("name,email\nbob,bob@example.org\n")
    with pytest.raises(ValueError, match="expected a TWCS CSV header"):
        sniff_format(other)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        sniff_format(empty)


# ---- twcs ---------------------------------------------------------------------------------------


def test_twcs_sample_maps_columns_by_name():
    records = read_file("twcs", FIXTURES / "twcs_sample.csv")
    assert all(isinstance(r, RawRecord) for r in records)
    assert [r.external_id for r in records] == ["101", "102", "103", "104", "105", "106"]
    assert [r.line for r in records] == [2, 3, 4, 7, 8, 9]  # record 103 spans lines 4-6
    assert records[0].location == "row 1"
    first = records[0].payload
    assert "Unnamed: 0" not in first and "" not in first
    assert first["brand"] == "AlpinaCare"  # extra columns kept
    for r in records:
        json.dumps(r.payload)

    fmt = get_format("twcs")
    posts = [fmt.normalize(r.payload) for r in records]
    p101, p102, p103, p104, p105, p106 = posts
    assert isinstance(p101, NormalizedPost)
    assert p101.created_at == datetime(2024, 3, 4, 8, 15, 2, tzinfo=UTC)
    assert p101.created_at.tzinfo is not None
    assert (p101.kind, p101.is_outbound, p101.in_reply_to_external_id) == ("post", False, None)
    assert p101.author_external_id == p101.author_handle == "900001"
    assert (p102.kind, p102.is_outbound, p102.in_reply_to_external_id) == ("reply", True, "101")
    assert p102.author_handle == "AlpinaCare"
    assert "unplug it for 30 seconds & tell us" in p102.text  # Twitter's &amp; undone
    assert p103.external_id == "103" and p103.in_reply_to_external_id == "102"  # "103.0" → "103"
    assert p103.text == "@AlpinaCare done.\nStill red 😩\nLine three of my reply"
    assert p104.created_at == datetime(2024, 3, 4, 7, 41, 57, tzinfo=UTC)  # +0100 → UTC
    assert p105.text == "<script>alert('x')</script> is what I typed in your contact form <3"
    assert p106.text == "Grüezi @AlpinaCare, wann kommt Glasfaser nach Thun? 🙏"


def test_twcs_malformed_file_rejects_only_the_bad_records():
    records = read_file("twcs", FIXTURES / "twcs_malformed.csv")
    got = outcome("twcs", records)
    assert got == [
        ("ok", 2, "1"),
        ("bad", 3, "invalid UTF-8 at byte 50 (0xE9) in line 3"),
        ("bad", 4, "NUL byte in line 4"),
        ("bad", 5, "broken CSV: a quote inside a quoted field is not doubled (',' expected after '\"')"),
        ("ok", 6, "5"),
        ("bad", 8, "broken CSV: a quoted field is never closed (the next record starts inside it)"),
        ("ok", 9, "7"),
        ("bad", 10, "wrong number of columns: 8 instead of 7"),
        ("norm", 11, "bad date 'yesterday' in created_at (expected like 'Tue Oct 31 22:10:47 +0000 2017')"),
        ("norm", 12, "empty field 'text'"),
        ("norm", 13, "bad value 'maybe' in inbound (expected True or False)"),
        ("ok", 15, "12"),
    ]
    bad = [r for r in records if isinstance(r, BadRecord)]
    assert "caf\ufffd in Latin-1" in bad[0].raw_text  # kept, decoded with replacement
    assert "\x00" in bad[1].raw_text
    assert bad[3].raw_text.startswith("6,800006") and "good after" not in bad[3].raw_text
    assert bad[3].location == "line 8"


def test_twcs_bad_utf8_inside_a_multiline_record_rejects_that_record_only():
    data = (TWCS_HEADER
            + b'1,800001,True,' + DATE + b',"ok",,\n'
            + b'2,800002,True,' + DATE + b',"first line\nsecond \xff line\nthird",,\n'
            + b'3,800003,True,' + DATE + b',"ok too",,\n')
    got = outcome("twcs", read("twcs", data))
    assert got == [("ok", 2, "1"), ("bad", 3, "invalid UTF-8 at byte 8 (0xFF) in line 4"), ("ok", 6, "3")]


def test_twcs_unclosed_quote_at_end_of_file():
    data = TWCS_HEADER + b'1,800001,True,' + DATE + b',"ok",,\n2,800002,True,' + DATE + b',"never\nclosed'
    got = outcome("twcs", read("twcs", data))
    assert got[0] == ("ok", 2, "1")
    assert got[1][:2] == ("bad", 3)
    assert "never closed before the end of the file" in got[1][2]
    assert len(got) == 2


def test_twcs_crlf_bare_cr_in_quotes_and_unquoted_bare_cr():
    data = (TWCS_HEADER.replace(b"\n", b"\r\n")
            + b'1,800001,True,' + DATE + b',"quoted\rbare CR",,\r\n'
            + b'2,800002,True,' + DATE + b',unquoted\r\rbare CR,,\r\n'
            + b'3,800003,True,' + DATE + b',"crlf\r\ninside",,\r\n')
    records = read("twcs", data)
    assert [type(r) for r in records] == [RawRecord] * 3
    assert records[0].payload["text"] == "quoted\rbare CR"
    assert records[1].payload["text"] == "unquoted\r\rbare CR"
    assert records[2].payload["text"] == "crlf\r\ninside"
    assert [r.line for r in records] == [2, 3, 4]


def test_twcs_float_ids_bom_and_headerless():
    data = b"\xef\xbb\xbf" + TWCS_HEADER + b'7.0,115712.0,True,' + DATE + b',"hi",,6.0\n'
    (rec,) = read("twcs", data)
    assert rec.external_id == "7"
    post = get_format("twcs").normalize(rec.payload)
    assert (post.external_id, post.author_external_id, post.in_reply_to_external_id) == ("7", "115712", "6")

    headerless = b'8,AlpinaCare,False,' + DATE + b',"no header here",,7\n'
    (rec,) = read("twcs", headerless)
    assert rec.payload["text"] == "no header here" and rec.line == 1


def test_twcs_wrong_header_is_one_bad_record():
    (bad,) = read("twcs", b"id,user,message\n1,2,3\n4,5,6\n")
    assert isinstance(bad, BadRecord)
    assert bad.location == "header"
    assert "missing columns 'tweet_id', 'author_id'" in bad.reason


def test_twcs_empty_file_yields_nothing():
    assert read("twcs", b"") == []
    assert read("twcs", TWCS_HEADER) == []


def test_twcs_one_megabyte_text():
    big = "x" * (1024 * 1024)
    data = (TWCS_HEADER + b'1,800001,True,' + DATE + b',"ok",,\n'
            + b'2,800002,True,' + DATE + b',"' + big.encode() + b'",,\n'
            + b'3,800003,True,' + DATE + b',"ok",,\n')
    got = outcome("twcs", read("twcs", data))
    assert got[0] == ("ok", 2, "1") and got[2] == ("ok", 4, "3")
    kind, line, reason = got[1]
    assert (kind, line) == ("bad", 3)
    assert "characters" in reason and str(MAX_TEXT_CHARS) in reason
    bad = read("twcs", data)[1]
    assert len(bad.raw_text) == 10_000

    # Under the csv field limit but over ours: a normalize error naming the size.
    payload = read("twcs", TWCS_HEADER + b'4,1,True,' + DATE + b',"' + b"y" * 60_000 + b'",,\n')[0].payload
    with pytest.raises(NormalizeError, match="text is 60000 characters, over the 50000 limit"):
        get_format("twcs").normalize(payload)


def test_twcs_normalize_missing_and_bad_fields():
    fmt = get_format("twcs")
    good = {"tweet_id": "1", "author_id": "9", "inbound": "True",
            "created_at": "Tue Oct 31 22:10:47 +0000 2017", "text": "hi",
            "response_tweet_id": "", "in_response_to_tweet_id": ""}
    fmt.normalize(good)
    for field in ("tweet_id", "author_id", "inbound", "created_at", "text"):
        broken = dict(good)
        del broken[field]
        with pytest.raises(NormalizeError, match=f"missing field '{field}'"):
            fmt.normalize(broken)
    with pytest.raises(NormalizeError, match="bad tweet_id 'abc'"):
        fmt.normalize({**good, "tweet_id": "abc"})
    with pytest.raises(NormalizeError, match="empty field 'tweet_id'"):
        fmt.normalize({**good, "tweet_id": ""})
    with pytest.raises(NormalizeError, match="bad in_response_to_tweet_id '1,003,007'"):
        fmt.normalize({**good, "in_response_to_tweet_id": "1,003,007"})
    with pytest.raises(NormalizeError, match="bad date 'Tue Feb 30 22:10:47 \\+0000 2017'"):
        fmt.normalize({**good, "created_at": "Tue Feb 30 22:10:47 +0000 2017"})


def test_parse_twitter_date_variants():
    assert parse_twitter_date("Tue Oct 31 22:10:47 +0000 2017") == datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC)
    assert parse_twitter_date("Tue Oct 31 22:10:47 -0230 2017") == datetime(2017, 11, 1, 0, 40, 47, tzinfo=UTC)
    assert parse_twitter_date(" 2017-10-31 22:10:47+00:00 ") == datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC)
    for bad in ("yesterday", "2017-10-31 22:10:47", "Tue Foo 31 22:10:47 +0000 2017", ""):
        with pytest.raises(NormalizeError, match="bad date"):
            parse_twitter_date(bad)


# The shared data folder sits beside the repository (CI) or at /work/shared (workstations).
TWCS_UNION = next(
    (p for p in (ROOT.parent / "shared" / "data" / "twcs" / "twcs_union.csv.gz",
                 Path("/work/shared/data/twcs/twcs_union.csv.gz")) if p.exists()),
    Path("/nonexistent/twcs_union.csv.gz"),
)


@pytest.mark.skipif(not TWCS_UNION.exists(), reason="shared TWCS data not present")
def test_twcs_union_reads_without_rejects():
    fmt = get_format("twcs")
    good = bad = errors = 0
    with open_input(TWCS_UNION) as stream:
        for rec in fmt.read(stream):
            if isinstance(rec, BadRecord):
                bad += 1
                continue
            good += 1
            try:
                fmt.normalize(rec.payload)
            except NormalizeError:
                errors += 1
    assert (good, bad, errors) == (61_977, 0, 0)


# ---- ndjson -------------------------------------------------------------------------------------


def test_ndjson_fixture():
    records = read_file("ndjson", FIXTURES / "posts.ndjson")
    got = outcome("ndjson", records)
    assert got == [
        ("ok", 1, "p-1"),
        ("ok", 3, "p-2"),
        ("bad", 4, "invalid JSON: Expecting ',' delimiter at column 75"),
        ("bad", 5, "line is a JSON array, expected a JSON object"),
        ("norm", 6, "missing field 'created_at'"),
        ("norm", 7, "bad date 'yesterday' in created_at (expected ISO 8601 like '2024-05-01T09:30:00+02:00')"),
        ("norm", 8, "date '2024-05-01T07:45:00' in created_at has no UTC offset (expected like '2024-05-01T09:30:00+02:00')"),
        ("bad", 9, "NUL character (\\u0000) in a JSON string"),
        ("ok", 10, "9"),
    ]
    fmt = get_format("ndjson")
    p1 = fmt.normalize(records[0].payload)
    assert p1.created_at == datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert (p1.author_handle, p1.author_name, p1.author_followers) == ("lea_keller", "Léa Keller", 312)
    assert (p1.kind, p1.lang_hint, p1.url) == ("post", "en", "https://social.example/@lea_keller/p-1")
    p2 = fmt.normalize(records[1].payload)
    assert (p2.kind, p2.is_outbound, p2.in_reply_to_external_id) == ("reply", True, "p-1")
    p9 = fmt.normalize(records[-1].payload)
    assert p9.text == "<script>alert(1)</script>"
    assert (p9.kind, p9.author_handle, p9.author_followers, p9.is_outbound) == ("dm", "mallory", None, False)
    assert records[0].location == "line 1"


def test_ndjson_encoding_nul_and_constants():
    data = (b'{"id": "a", "text": "ok", "created_at": "2024-01-01T00:00:00Z", "author": {"id": "1", "handle": "h"}}\n'
            b'{"id": "b", "text": "caf\xe9"}\n'
            b'{"id": "c", "text": "nul \x00"}\n'
            b'{"id": "d", "followers": NaN}\n'
            b'{"id": "e", "text": "lone \\ud800 surrogate"}\n'
            b'{"id": "f", "text": "pair \\ud83d\\ude00 ok", "created_at": "2024-01-01T00:00:00Z", "author": {"id": "1", "handle": "h"}}\n')
    got = outcome("ndjson", read("ndjson", data))
    assert got == [
        ("ok", 1, "a"),
        ("bad", 2, "invalid UTF-8 at byte 25 (0xE9) in line 2"),
        ("bad", 3, "NUL byte in line 3"),
        ("bad", 4, "invalid JSON: NaN is not valid JSON"),
        ("bad", 5, "unpaired surrogate escape (\\ud800-\\udfff) in a JSON string: not valid Unicode"),
        ("ok", 6, "f"),
    ]


def test_ndjson_normalize_checks():
    fmt = get_format("ndjson")
    good = {"id": "x", "text": "hello", "created_at": "2024-05-01T09:30:00+02:00",
            "author": {"id": "u", "handle": "h", "name": "H", "followers": 3}}
    assert fmt.normalize(good).kind == "post"
    assert fmt.normalize({**good, "in_reply_to": "w"}).kind == "reply"
    cases = {
        "missing field 'id'": {k: v for k, v in good.items() if k != "id"},
        "missing field 'text'": {k: v for k, v in good.items() if k != "text"},
        "missing field 'author'": {k: v for k, v in good.items() if k != "author"},
        "empty field 'text'": {**good, "text": "  "},
        "missing field 'author.handle'": {**good, "author": {"id": "u"}},
        "bad value -1 in author.followers": {**good, "author": {"id": "u", "handle": "h", "followers": -1}},
        "bad value 'yes' in outbound": {**good, "outbound": "yes"},
        "bad value 'story' in kind": {**good, "kind": "story"},
        "field 'author' is a string": {**good, "author": "bob"},
        "text is 1048576 characters, over the 50000 limit": {**good, "text": "z" * 1048576},
    }
    for reason, payload in cases.items():
        with pytest.raises(NormalizeError) as err:
            fmt.normalize(payload)
        assert reason in str(err.value)


def test_ndjson_one_megabyte_line_is_read_then_refused():
    line = json.dumps({"id": "big", "text": "é" * 1048576, "created_at": "2024-01-01T00:00:00Z",
                       "author": {"id": "1", "handle": "h"}}, ensure_ascii=False).encode()
    data = b'{"id": "a", "text": "ok", "created_at": "2024-01-01T00:00:00Z", "author": {"id": "1", "handle": "h"}}\n' + line + b"\n"
    got = outcome("ndjson", read("ndjson", data))
    assert got == [("ok", 1, "a"), ("norm", 2, "text is 1048576 characters, over the 50000 limit")]


# ---- xv2 ----------------------------------------------------------------------------------------


def test_xv2_pretty_document_joins_authors():
    fmt = Xv2Format(own_handle="@AlpinaCare")
    with open_input(FIXTURES / "xv2_search.json") as stream:
        records = list(fmt.read(stream))
    assert [r.location for r in records] == [f"page 1 data[{i}]" for i in range(4)]
    assert all(isinstance(r, RawRecord) and r.line == 1 for r in records)
    assert records[0].payload["author"]["username"] == "giulia_ti"
    assert "author" not in records[3].payload
    for r in records:
        json.dumps(r.payload)
    posts = [fmt.normalize(r.payload) for r in records]
    p1, p2, p3, p4 = posts
    assert p1.text == "@AlpinaCare no signal in Lugano since 7am & the hotline is busy"
    assert p1.created_at == datetime(2024, 5, 2, 5, 12, 44, tzinfo=UTC)
    assert (p1.author_handle, p1.author_name, p1.author_followers) == ("giulia_ti", "Giulia 🌻", 230)
    assert (p1.is_outbound, p1.kind, p1.lang_hint) == (False, "post", "en")
    assert p1.url == "https://x.com/giulia_ti/status/1790000000000000001"
    assert (p2.is_outbound, p2.kind, p2.in_reply_to_external_id) == (True, "reply", "1790000000000000001")
    assert p3.text.startswith("Long post, in full:") and p3.lang_hint == ""
    assert p3.author_followers is None
    assert (p4.author_handle, p4.author_external_id) == ("5999", "5999")
    assert p4.url == "https://x.com/i/web/status/1790000000000000004"
    assert p4.created_at == datetime(2024, 5, 2, 4, 1, tzinfo=UTC)
    # Without own_handle nothing is outbound.
    assert not get_format("xv2").normalize(records[1].payload).is_outbound


def test_xv2_pages_one_per_line():
    records = read_file("xv2", FIXTURES / "xv2_pages.ndjson")
    summary = [(type(r).__name__, r.line, r.location) for r in records]
    assert summary == [
        ("RawRecord", 1, "page 1 data[0]"),
        ("RawRecord", 1, "page 1 data[1]"),
        ("BadRecord", 2, "page 2"),
        ("RawRecord", 3, "page 3 data[0]"),
        ("BadRecord", 3, "page 3 data[1]"),
        ("BadRecord", 5, "page 5"),
    ]
    assert records[2].reason.startswith("invalid JSON: ")
    assert records[4].reason == "data[1] is a JSON string, expected a tweet object"
    assert records[5].reason == 'page has no "data", only errors: Unauthorized'
    post = get_format("xv2").normalize(records[3].payload)
    assert post.in_reply_to_external_id == "203" and post.author_handle == "urs_bern"
    assert records[1].payload["author"]["name"] == "Nina"


def test_xv2_concatenated_documents_and_arrays():
    page = {"data": [{"id": "1", "text": "a", "created_at": "2024-01-01T00:00:00Z", "author_id": "9"}]}
    doc = json.dumps(page, indent=2)
    records = read("xv2", (doc + "\n" + doc + "\n").encode())
    assert [r.location for r in records] == ["page 1 data[0]", "page 2 data[0]"]
    assert [r.line for r in records] == [1, 1 + doc.count("\n") + 1]
    records = read("xv2", json.dumps([page, page]).encode())
    assert [r.location for r in records] == ["page 1 data[0]", "page 2 data[0]"]
    single = {"data": page["data"][0]}
    assert [r.external_id for r in read("xv2", json.dumps(single, indent=1).encode())] == ["1"]


def test_xv2_broken_document_and_bad_encoding():
    (bad,) = read("xv2", b'{\n  "data": [\n    {"id": "1",, "text": "x"}\n  ]\n}\n')
    assert bad.reason == "invalid JSON: Expecting property name enclosed in double quotes at line 3 column 16"
    assert bad.line == 1
    (bad,) = read("xv2", b'{\n  "data": [{"id": "1", "text": "caf\xe9"}]\n}\n')
    assert bad.reason == "invalid UTF-8 at byte 36 (0xE9) in line 2"
    assert read("xv2", b"") == []
    assert read("xv2", b'{"meta": {"result_count": 0}}\n') == []


def test_xv2_normalize_errors():
    fmt = get_format("xv2")
    good = {"id": "1", "text": "hi", "created_at": "2024-01-01T00:00:00.000Z", "author_id": "9"}
    assert fmt.normalize(good).author_handle == "9"
    with pytest.raises(NormalizeError, match="missing field 'created_at'"):
        fmt.normalize({k: v for k, v in good.items() if k != "created_at"})
    with pytest.raises(NormalizeError, match="missing field 'author_id'"):
        fmt.normalize({k: v for k, v in good.items() if k != "author_id"})
    with pytest.raises(NormalizeError, match="bad date 'soon'"):
        fmt.normalize({**good, "created_at": "soon"})
    with pytest.raises(NormalizeError, match="note_tweet.text is 60000 characters"):
        fmt.normalize({**good, "note_tweet": {"text": "n" * 60000}})
    with pytest.raises(NormalizeError, match="empty field 'text'"):
        fmt.normalize({**good, "text": ""})


# ---- limits -------------------------------------------------------------------------------------


def test_overlong_lines_are_skipped_in_bounded_memory(monkeypatch):
    from veille.sources.formats import _common, twcs

    monkeypatch.setattr(_common, "MAX_LINE_BYTES", 200)
    monkeypatch.setattr(twcs, "MAX_LINE_BYTES", 200)
    long_text = b"w" * 1000
    data = (TWCS_HEADER + b'1,800001,True,' + DATE + b',"ok",,\n'
            + b'2,800002,True,' + DATE + b',"' + long_text + b'",,\n'
            + b'3,800003,True,' + DATE + b',"ok",,\n')
    got = outcome("twcs", read("twcs", data))
    assert got == [("ok", 2, "1"), ("bad", 3, "line is over 200 bytes, skipped"), ("ok", 4, "3")]

    line = b'{"id": "a", "text": "ok", "created_at": "2024-01-01T00:00:00Z", "author": {"id": "1", "handle": "h"}}\n'
    data = line + b'{"id": "b", "text": "' + long_text + b'"}\n' + line.replace(b'"a"', b'"c"')
    got = outcome("ndjson", read("ndjson", data))
    assert got == [("ok", 1, "a"), ("bad", 2, "line is over 200 bytes, skipped"), ("ok", 3, "c")]
