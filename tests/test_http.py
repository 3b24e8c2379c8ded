"""`llmcourse serve`: the real service in a subprocess, called over loopback HTTP with httpx."""

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from llmcourse import baselines, saving
from llmcourse.deploy.service import create_app


@pytest.fixture(scope="module")
def model_dir(saved_quick_model):
    directory, test_texts = saved_quick_model("lstm", seed=1)
    return directory, test_texts[:40]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """(process, client) of `python -m llmcourse serve` on a free loopback port; always terminated."""
    directory, _ = model_dir
    port = free_port()
    log = (tmp_path_factory.mktemp("http-log") / "serve.log").open("w+", encoding="utf-8")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [
        sys.executable,
        "-m",
        "llmcourse",
        "serve",
        "--model",
        str(directory),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-texts",
        "64",
        "--max-chars",
        "2000",
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(base_url=base, timeout=5) as client:
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"服务进程提前退出（{proc.returncode}）：\n{log.read()[-3000:]}")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("服务在 180 秒内没有就绪")
                time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=60) as client:
            yield proc, client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def service(server):
    """A client of the running service."""
    return server[1]


def assert_same_predictions(got: list[dict], expected: list[dict]):
    assert [g["text"] for g in got] == [e["text"] for e in expected]
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    assert [g["label_name"] for g in got] == [e["label_name"] for e in expected]
    np.testing.assert_allclose([g["probability"] for g in got], [e["probability"] for e in expected], rtol=0, atol=1e-5)


def test_predict_matches_the_loaded_model(service, model_dir, edge_cases):
    directory, texts = model_dir
    batch = texts[:30] + edge_cases
    response = service.post("/predict", json={"texts": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "lstm" and len(body["predictions"]) == len(batch)
    assert_same_predictions(body["predictions"], saving.load_model(directory).predict(batch))


def test_health(service):
    body = service.get("/health").json()
    assert body["status"] == "ok" and body["model"] == "lstm"
    assert body["limits"]["max_texts"] == 64 and body["limits"]["max_chars"] == 2000
    assert {"python", "tensorflow", "fastapi", "uvicorn", "llmcourse"} <= set(body["versions"])


def test_openapi_describes_the_endpoints_in_chinese(service):
    spec = service.get("/openapi.json").json()
    assert {"/predict", "/health"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert "评论文本" in schemas["PredictRequest"]["properties"]["texts"]["description"]
    assert "正面概率" in schemas["Prediction"]["properties"]["probability"]["description"]
    assert {"400", "413", "422"} <= set(spec["paths"]["/predict"]["post"]["responses"])
    docs = service.get("/docs")  # no page that loads its scripts from a CDN (blank offline)
    assert docs.status_code == 404 and "/openapi.json" in docs.json()["detail"]


BAD_REQUESTS = {
    "bad JSON": (
        dict(content=b'{"texts": ["\xe5\xa5\xbd",', headers={"content-type": "application/json"}),
        400,
        "JSON",
    ),
    "texts is a string": (dict(json={"texts": "很好"}), 422, "字符串列表"),
    "a number in texts": (dict(json={"texts": ["很好", 3]}), 422, "texts[1] 不是字符串"),
    "body is a list": (dict(json=["很好"]), 422, "JSON 对象"),
    "field missing": (dict(json={"text": ["很好"]}), 422, "texts"),
    "empty list": (dict(json={"texts": []}), 422, "空列表"),
    "too many texts": (dict(json={"texts": ["好"] * 65}), 413, "最多预测 64 条"),
    "text too long": (dict(json={"texts": ["好", "好" * 2001]}), 413, "2000 个字符"),
    "not JSON": (dict(content="很好".encode(), headers={"content-type": "text/plain"}), 415, "application/json"),
    "lone surrogate": (
        dict(content=rb'{"texts": ["\ud800"]}', headers={"content-type": "application/json"}),
        422,
        "texts[0]",
    ),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_with_a_chinese_message(service, name):
    kwargs, status, fragment = BAD_REQUESTS[name]
    response = service.post("/predict", **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and fragment in detail
    assert any("\u4e00" <= ch <= "\u9fff" for ch in detail)  # the message is in Chinese


def test_service_still_answers_after_bad_requests(service, model_dir):
    for kwargs, _, _ in BAD_REQUESTS.values():
        assert 400 <= service.post("/predict", **kwargs).status_code < 500
    assert service.get("/health").json()["status"] == "ok"
    texts = model_dir[1][:3]
    response = service.post("/predict", json={"texts": texts})
    assert response.status_code == 200 and [p["text"] for p in response.json()["predictions"]] == texts


def resident_mib(pid: int) -> float:
    """The resident memory (VmRSS) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"/proc/{pid}/status has no VmRSS")


def test_a_chunked_48_mb_body_is_refused_while_it_is_read(server):
    """413 without a Content-Length to go by: the server counts while reading and keeps nothing past the limit."""
    proc, client = server
    chunk = '"好",'.encode() * 9000  # 63 KB of short texts: parsed whole, they would take hundreds of MB
    count = 48 * 2**20 // len(chunk)

    def body():
        yield b'{"texts": ['
        for _ in range(count):
            yield chunk
        yield b'"x"]}'

    before = peak = resident_mib(proc.pid)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, resident_mib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        response = client.post("/predict", content=body(), headers={"content-type": "application/json"}, timeout=60)
    finally:
        done.set()
        sampler.join()
    seconds, after = time.monotonic() - started, resident_mib(proc.pid)
    print(
        f"\nchunked {count * len(chunk) / 2**20:.0f} MiB in {seconds:.1f} s: server VmRSS {before:.0f} MiB before, "
        f"{peak:.0f} MiB at most while reading, {after:.0f} MiB after"
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"  # no Content-Length to refuse it by
    assert response.status_code == 413, response.text
    assert max(peak, after) - before < 50, (before, peak, after)
    assert "请求体超过上限" in response.json()["detail"], response.text
    assert seconds < 60 and service_answers(client)


def service_answers(client) -> bool:
    response = client.post("/predict", json={"texts": ["很好"]})
    return response.status_code == 200 and len(response.json()["predictions"]) == 1


def test_concurrent_requests_get_their_own_answers(service, model_dir):
    directory, texts = model_dir
    expected = {t: r for t, r in zip(texts, saving.load_model(directory).predict(texts))}
    batches = [texts[i : i + 1 + i % 5] for i in range(24)]

    def call(batch):
        response = service.post("/predict", json={"texts": batch})
        assert response.status_code == 200, response.text
        return batch, response.json()["predictions"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        for batch, got in pool.map(call, batches):
            assert_same_predictions(got, [expected[t] for t in batch])


def test_serve_refuses_a_missing_model_directory(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-m", "llmcourse", "serve", "--model", str(tmp_path / "none"), "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "找不到模型目录" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_refuses_a_busy_port(model_dir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "llmcourse", "serve", "--model", str(model_dir[0]), "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
    assert out.returncode == 2 and "无法在 127.0.0.1" in out.stderr and "Traceback" not in out.stderr


def test_create_app_serves_a_baseline_in_process(reviews):
    """create_app works for any model with predict(); limits come from its arguments."""
    part = reviews.sample(300, seed=5)
    model = saving.BaselineModel(
        baselines.TfidfClassifier("tfidf-char").fit(part.texts, part.labels), {"kind": "tfidf-char"}
    )
    app = create_app(model, max_texts=2, max_chars=10)

    async def calls():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (
                await client.post("/predict", json={"texts": ["很好", "太差了"]}),
                await client.post("/predict", json={"texts": ["a", "b", "c"]}),
                await client.post("/predict", json={"texts": ["好" * 11]}),
                await client.get("/health"),
            )

    ok, too_many, too_long, health = asyncio.run(calls())
    assert ok.status_code == 200 and ok.json()["model"] == "tfidf-char"
    assert_same_predictions(ok.json()["predictions"], model.predict(["很好", "太差了"]))
    assert too_many.status_code == 413 and too_long.status_code == 413
    assert health.json()["limits"]["max_texts"] == 2
