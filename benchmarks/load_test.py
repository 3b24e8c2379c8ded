"""Load test of `llmcourse serve`: requests per second, p50/p99 latency, failed requests.

    llmcourse train --out runs/bilstm                        # a model to serve (full profile)
    LLMCOURSE_PROFILE=quick llmcourse train --out runs/quick  # or a tiny one, in seconds
    python benchmarks/load_test.py --model runs/bilstm        # starts the service, 20 s of load
    python benchmarks/load_test.py --url http://127.0.0.1:8000  # a service that is already running

The service runs in its own process (`python -m llmcourse serve` on a free
loopback port, started and stopped by this script); this script is the
client: a few threads, each with its own keep-alive connection, send batches
of real reviews back to back for a fixed time. Only loopback addresses are
used. The exit status is 1 if any request failed.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import numpy as np

MAX_SECONDS = 300
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(model: Path, threads: int, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "llmcourse",
        "serve",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), f"http://127.0.0.1:{port}"


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise SystemExit(f"服务进程提前退出，退出码 {proc.returncode}")
            try:
                response = client.get("/health")
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.3)
    raise SystemExit(f"{url} 在 {timeout:.0f} 秒内没有就绪")


def run_load(url: str, batches: list[list[str]], seconds: float, clients: int) -> dict:
    """`clients` threads post batches back to back until `seconds` have passed."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    texts_done = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for batch in batches[k::clients][:2]:  # warm the connection (not counted)
                client.post("/predict", json={"texts": batch})
            start_gate.wait()
            i = k
            while time.perf_counter() < stop_at[0]:
                batch = batches[i % len(batches)]
                i += clients
                t0 = time.perf_counter()
                try:
                    response = client.post("/predict", json={"texts": batch})
                    ok = response.status_code == 200 and len(response.json()["predictions"]) == len(batch)
                except (httpx.HTTPError, ValueError, KeyError):
                    ok = False
                latencies[k].append(time.perf_counter() - t0)
                if ok:
                    texts_done[k] += len(batch)
                else:
                    failures[k] += 1

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    begin = time.perf_counter()
    stop_at[0] = begin + seconds
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    lat = np.array([x for per in latencies for x in per])
    return {
        "requests": int(lat.size),
        "elapsed": elapsed,
        "rps": lat.size / elapsed,
        "texts_per_s": sum(texts_done) / elapsed,
        "p50_ms": float(np.percentile(lat, 50) * 1000) if lat.size else float("nan"),
        "p99_ms": float(np.percentile(lat, 99) * 1000) if lat.size else float("nan"),
        "failed": sum(failures),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--model", type=Path, help="模型目录：启动一个服务进程来测（例如 llmcourse train --out runs/bilstm 的结果）"
    )
    where.add_argument("--url", help="已在运行的服务地址（只接受本机回环地址），例如 http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=20, help=f"施压时长（秒，默认 20，最多 {MAX_SECONDS}）")
    parser.add_argument("--clients", type=int, default=4, help="并发的客户端线程数（默认 4）")
    parser.add_argument("--batch", type=int, default=8, help="每个请求的评论条数（默认 8）")
    parser.add_argument("--server-threads", type=int, default=4, help="服务端做预测的线程数（默认 4）")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds 应在 0 到 {MAX_SECONDS} 之间")
    if not 1 <= args.clients <= 64 or not 1 <= args.batch <= 64:
        parser.error("--clients 和 --batch 应在 1 到 64 之间")
    if args.url and urllib.parse.urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url 只接受本机回环地址（127.0.0.1、localhost 或 ::1）")
    if args.model is not None and not (args.model / "config.json").is_file():
        parser.error(f"{args.model} 不是模型目录；先训练一个：llmcourse train --out {args.model}")

    from llmcourse import data

    reviews = data.load_reviews().sample(args.batch * 200, seed=0).texts  # real reviews, varied lengths
    batches = [reviews[i : i + args.batch] for i in range(0, len(reviews), args.batch)]

    proc, log = None, None
    try:
        if args.model is not None:
            log = tempfile.TemporaryFile("w+", encoding="utf-8")
            proc, url = start_service(args.model, args.server_threads, log)
        else:
            url = args.url.rstrip("/")
        try:
            health = wait_ready(url, proc)
        except SystemExit:
            if log is not None:
                log.seek(0)
                print(log.read()[-3000:], file=sys.stderr)
            raise
        print(
            f"service {url} model={health['model']} server_threads={args.server_threads} "
            f"cpus={os.cpu_count()} tensorflow={health['versions'].get('tensorflow')}",
            flush=True,
        )
        print(f"load: {args.clients} client threads, {args.batch} reviews per request, {args.seconds:g} s", flush=True)
        r = run_load(url, batches, args.seconds, args.clients)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log is not None:
            log.close()
    print(
        f"requests {r['requests']} in {r['elapsed']:.1f} s: {r['rps']:.1f} requests/s "
        f"({r['texts_per_s']:.0f} reviews/s)"
    )
    print(f"latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
    print(f"failed requests {r['failed']}")
    return 1 if r["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
