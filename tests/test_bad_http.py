"""Hostile but fair requests to the HTTP service, in process: each gets a 4xx and one Chinese line, never a 500.

One table of raw requests (method, path, body bytes, headers) with the status and the message
each must get; property-based tests (hypothesis) for any JSON body and any valid list of texts;
the adversarial texts a model must answer. The real server in a subprocess, for the chunked
48 MB body and its memory, is in tests/test_http.py.
"""

import asyncio
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmcourse import baselines, saving
from llmcourse.deploy.service import create_app
from llmcourse.errors import CourseError

MAX_TEXTS, MAX_CHARS = 64, 2000
J = {"content-type": "application/json"}
CJK = re.compile("[\u4e00-\u9fff]")
BIG = 1_600_000  # more than the default body limit for 64 texts of 2000 characters (1,541,120 bytes)


@pytest.fixture(scope="module")
def app(saved_quick_model):
    directory, _ = saved_quick_model("lstm", seed=1)
    return create_app(saving.load_model(directory), max_texts=MAX_TEXTS, max_chars=MAX_CHARS)


async def _stream(parts: list[bytes]):
    for part in parts:
        yield part


def send(app, method: str, path: str, body: bytes | list[bytes] = b"", headers: dict | None = None) -> httpx.Response:
    """One request to `app` in process; a list of byte strings is sent chunked, without a Content-Length."""

    async def call():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is a 500 here
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            content = _stream(body) if isinstance(body, list) else body
            return await client.request(method, path, content=content, headers=headers or {})

    return asyncio.run(call())


def assert_chinese_error(response: httpx.Response) -> str:
    """A 4xx whose body is exactly {"detail": "<one line with Chinese in it>"}; returns the line."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str), body
    detail = body["detail"]
    assert CJK.search(detail) and "\n" not in detail, detail
    return detail


TOO_MANY = json.dumps({"texts": ["好"] * (MAX_TEXTS + 1)}).encode()
TOO_LONG = json.dumps({"texts": ["好", "好" * (MAX_CHARS + 1)]}).encode()
# Within the body limit, but pydantic would build one error per item (before: 20 s and +870 MB for the numbers).
MANY_NUMBERS = b'{"texts": [' + b"1," * 749_999 + b"1]}"
MANY_KEYS = b"{" + b",".join(b'"%d": 1' % i for i in range(130_000)) + b"}"
# (name, method, path, body, headers, status, regex the detail must match)
CASES = [
    ("truncated JSON", "POST", "/predict", '{"texts": ["好",'.encode(), J, 400, r"不是合法的 JSON：第 1 行第 \d+ 列"),
    ("single quotes", "POST", "/predict", b"{'texts': ['a']}", J, 400, "双引号括起来的键名"),
    ("trailing comma", "POST", "/predict", b'{"texts": ["a",]}', J, 400, "不是合法的 JSON：第 1 行"),
    ("missing comma", "POST", "/predict", b'{"texts": ["a" "b"]}', J, 400, "缺少逗号"),
    ("extra data after the object", "POST", "/predict", b'{"texts": ["a"]} {}', J, 400, "多余的内容"),
    ("raw newline inside a string", "POST", "/predict", b'{"texts": ["a\nb"]}', J, 400, "控制字符"),
    ("invalid escape", "POST", "/predict", rb'{"texts": ["\q"]}', J, 400, "转义"),
    ("short \\u escape", "POST", "/predict", rb'{"texts": ["\u12"]}', J, 400, r"\\uXXXX"),
    ("NaN", "POST", "/predict", b'{"texts": [NaN]}', J, 400, "NaN 不是 JSON 的值"),
    ("5000-digit integer", "POST", "/predict", b'{"texts": [' + b"9" * 5000 + b"]}", J, 400, "位数太多"),
    ("nesting 100000 deep", "POST", "/predict", b"[" * 100_000, J, 400, "嵌套太深"),
    ("invalid UTF-8", "POST", "/predict", b'{"texts": ["\xff"]}', J, 400, r"不是合法的 UTF-8：第 13 个字节（0xFF）"),
    ("surrogate as raw bytes", "POST", "/predict", b'{"texts": ["\xed\xa0\x80"]}', J, 400, "不是合法的 UTF-8"),
    ("UTF-16 body", "POST", "/predict", '{"texts": ["很好"]}'.encode("utf-16"), J, 400, "不是合法的 UTF-8"),
    ("GBK body", "POST", "/predict", '{"texts": ["很好"]}'.encode("gbk"), J, 400, "不是合法的 UTF-8"),
    (
        "charset gbk declared",
        "POST",
        "/predict",
        b'{"texts": ["a"]}',
        {"content-type": "application/json; charset=gbk"},
        415,
        "charset=gbk",
    ),
    ("text/plain", "POST", "/predict", "很好".encode(), {"content-type": "text/plain"}, 415, "application/json"),
    ("no Content-Type", "POST", "/predict", b'{"texts": ["a"]}', {}, 415, "缺少 Content-Type"),
    (
        "form encoded",
        "POST",
        "/predict",
        b"texts=a",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "application/json",
    ),
    (
        "multipart",
        "POST",
        "/predict",
        b"--x\r\n\r\na\r\n--x--",
        {"content-type": "multipart/form-data; boundary=x"},
        415,
        "application/json",
    ),
    ("empty body", "POST", "/predict", b"", J, 422, "缺少请求体"),
    ("body is an array", "POST", "/predict", '["很好"]'.encode(), J, 422, "必须是 JSON 对象.*而不是数组"),
    ("body is null", "POST", "/predict", b"null", J, 422, "而不是空值 null"),
    ("body is 1e999", "POST", "/predict", b"1e999", J, 422, "而不是数字"),
    ("texts missing", "POST", "/predict", '{"text": ["很好"]}'.encode(), J, 422, "缺少字段 texts"),
    ("extra field", "POST", "/predict", b'{"texts": ["a"], "model": "x"}', J, 422, '未知字段 "model"'),
    ("130000 unknown fields", "POST", "/predict", MANY_KEYS, J, 422, '缺少字段 texts；未知字段 "0"、"1"、"2"等'),
    ("duplicate key", "POST", "/predict", b'{"texts": ["a"], "texts": ["b"]}', J, 422, '"texts" 出现了不止一次'),
    ("texts is a string", "POST", "/predict", '{"texts": "很好"}'.encode(), J, 422, "字符串列表.*而不是字符串"),
    ("texts is null", "POST", "/predict", b'{"texts": null}', J, 422, "字符串列表.*而不是空值 null"),
    (
        "a number in texts",
        "POST",
        "/predict",
        '{"texts": ["很好", 3]}'.encode(),
        J,
        422,
        r"texts\[1\] 不是字符串，而是数字：3",
    ),
    ("null in texts", "POST", "/predict", b'{"texts": [null]}', J, 422, r"texts\[0\] 不是字符串，而是空值 null"),
    ("a list in texts", "POST", "/predict", b'{"texts": [["a"]]}', J, 422, r"texts\[0\] 不是字符串，而是数组"),
    ("empty list", "POST", "/predict", b'{"texts": []}', J, 422, "空列表"),
    ("too many texts", "POST", "/predict", TOO_MANY, J, 413, f"最多预测 {MAX_TEXTS} 条.*有 {MAX_TEXTS + 1} 条"),
    ("750000 numbers as texts", "POST", "/predict", MANY_NUMBERS, J, 413, "这个请求有 750000 条"),
    ("text too long", "POST", "/predict", TOO_LONG, J, 413, rf"texts\[1\] 有 {MAX_CHARS + 1} 个字符"),
    ("lone high surrogate", "POST", "/predict", rb'{"texts": ["\ud800"]}', J, 422, r"texts\[0\] .*U\+D800"),
    (
        "lone low surrogate in texts[1]",
        "POST",
        "/predict",
        rb'{"texts": ["ok", "a\udc00"]}',
        J,
        422,
        r"texts\[1\] 的第 2 个字符.*U\+DC00",
    ),
    ("surrogates in the wrong order", "POST", "/predict", rb'{"texts": ["\udc00\ud800"]}', J, 422, r"U\+DC00"),
    (
        "body too large, Content-Length",
        "POST",
        "/predict",
        b'{"texts": ["' + b"a" * BIG + b'"]}',
        J,
        413,
        r"请求体有 \d+ 字节，超过上限 \d+ 字节",
    ),
    (
        "body too large, chunked",
        "POST",
        "/predict",
        [b'{"texts": ["'] + [b"a" * 65536] * (BIG // 65536 + 1),
        J,
        413,
        r"请求体超过上限 \d+ 字节",
    ),
    ("GET /predict", "GET", "/predict", b"", {}, 405, "/predict 不接受 GET 请求.*POST /predict"),
    ("PUT /predict", "PUT", "/predict", b'{"texts": ["a"]}', J, 405, "不接受 PUT 请求"),
    ("DELETE /health", "DELETE", "/health", b"", {}, 405, "不接受 DELETE 请求"),
    ("POST /health", "POST", "/health", b'{"texts": ["a"]}', J, 405, "/health 不接受 POST 请求"),
    ("unknown path", "POST", "/predictions", b'{"texts": ["a"]}', J, 404, "没有这个地址：/predictions"),
    ("GET /docs (needs a CDN)", "GET", "/docs", b"", {}, 404, r"没有这个地址：/docs.*GET /openapi\.json"),
    ("GET /redoc (needs a CDN)", "GET", "/redoc", b"", {}, 404, r"GET /openapi\.json"),
]


@pytest.mark.parametrize(
    "method, path, body, headers, status, pattern", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_a_bad_request_gets_its_status_and_one_chinese_line(app, method, path, body, headers, status, pattern):
    response = send(app, method, path, body, headers)
    assert response.status_code == status, response.text
    assert re.search(pattern, assert_chinese_error(response)), response.json()["detail"]


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 25 and len({case[0] for case in CASES}) == len(CASES)


# --------------------------------------------------------------------------- texts a model must answer
ADVERSARIAL_TEXTS = [
    "",
    "   ",
    "\t\n\r",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f\x85",
    "😀😀😀",
    "👨‍👩‍👧‍👦🏳️‍🌈",
    "\u200b\u200d\ufeff",
    "\u202e反向文本",
    "\u2028\u2029",
    "e\u0301" * 50,
    "\ufffe\uffff",
    "\U0010fffd\ue000",
    "好" * MAX_CHARS,
    "很好" * 400 + "😀" * 1200,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%s%n{0}",
    "\\ud800",
    "NaN",
]


def check_answers(app, texts: list[str]) -> None:
    response = send(app, "POST", "/predict", json.dumps({"texts": texts}).encode(), J)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["text"] for p in predictions] == texts
    assert all(p["label"] in (0, 1) and 0 <= p["probability"] <= 1 for p in predictions)


def test_adversarial_texts_are_answered_by_a_neural_model(app):
    check_answers(app, ADVERSARIAL_TEXTS)


def test_adversarial_texts_are_answered_by_a_baseline(reviews):
    part = reviews.sample(300, seed=5)
    model = saving.BaselineModel(
        baselines.TfidfClassifier("tfidf-char").fit(part.texts, part.labels), {"kind": "tfidf-char"}
    )
    check_answers(create_app(model), ADVERSARIAL_TEXTS)


class _FailingModel:
    """A stand-in model: an expected failure for one text, a bug for another."""

    kind, config = "fake", {}

    def predict(self, texts):
        if "expected" in texts:
            raise CourseError("这条文本无法预测", field="texts")
        if "bug" in texts:
            raise RuntimeError("boom")
        return [{"text": t, "label": 1, "label_name": "正面", "probability": 0.9} for t in texts]


def test_a_course_error_is_a_422_and_a_bug_a_500_both_in_chinese():
    app = create_app(_FailingModel())
    expected = send(app, "POST", "/predict", b'{"texts": ["expected"]}', J)
    assert expected.status_code == 422 and assert_chinese_error(expected) == "字段 texts：这条文本无法预测"
    bug = send(app, "POST", "/predict", b'{"texts": ["bug"]}', J)
    assert bug.status_code == 500 and "llmcourse 的缺陷" in bug.json()["detail"]


# --------------------------------------------------------------------------- properties
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_text = st.text(st.characters() | surrogates, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=12,
)
predict_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"texts": st.lists(json_values, max_size=4)}),
    st.fixed_dictionaries({"texts": st.lists(any_text, max_size=70)}, optional={"extra": json_values}),
)


@st.composite
def encoded_bodies(draw) -> bytes:
    """A JSON body as bytes: \\u-escaped, or UTF-8 where a lone surrogate becomes invalid bytes; or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    text = json.dumps(draw(predict_bodies), ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(body=encoded_bodies())
def test_any_body_gets_200_or_a_4xx_in_chinese_never_500(app, body):
    response = send(app, "POST", "/predict", body, J)
    event(f"HTTP {response.status_code}")
    if response.status_code != 200:
        assert_chinese_error(response)


valid_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=MAX_CHARS)


@settings(PROPERTY, max_examples=40)
@given(texts=st.lists(valid_text, min_size=1, max_size=MAX_TEXTS))
def test_any_valid_texts_get_one_prediction_each(app, texts):
    check_answers(app, texts)
