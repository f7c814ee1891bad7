"""Load test of `rnnkit serve` on 127.0.0.1: p50/p99 latency and throughput at 1, 8 and 32
concurrent clients for a text classifier and a language model, the errors counted, the server's
resident memory sampled through the run.

    .venv/bin/python benchmarks/serve_load.py --json serve_load.json          # ~3 minutes
    .venv/bin/python benchmarks/serve_load.py --classifier runs/imdb --lm runs/main

Without --classifier / --lm it trains stand-ins of the shipped configs' sizes for one iteration
(the weights do not matter to the load, the sizes do): the text classifier of
configs/classify_uci_bigru.toml on tests/data/uci_sentences.csv, and the character LSTM of
configs/shakespeare_char.toml on the same sentences. Each server is `rnnkit serve RUN` in its own
process; every client is an asyncio task of one httpx client, sending its next request when its
last reply came (closed loop), for --seconds per level or --max-requests in all, whichever comes
first. Requests: one sentence to /classify; a 20-token /generate (sampled, a different seed
each). Memory: the server's VmRSS from /proc every 0.2 s. The load generator shares the machine's 2
cores with the server, so these are the numbers of a server and its clients on one 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "tests" / "data" / "uci_sentences.csv"


def train_stand_ins(folder: Path) -> tuple[Path, Path]:
    """(classifier run, language model run), one iteration each at the shipped configs' sizes."""
    import rnnkit

    quiet = ["--train.epochs=0", "--train.iterations=1", "--train.eval_every=0", "--train.plots=false",
             "--train.baselines=false"]
    rnnkit.run(rnnkit.load_config(ROOT / "configs" / "classify_uci_bigru.toml",
                                  [f"--task.path={SENTENCES}", *quiet, f"--out_dir={folder / 'classifier'}"]))
    corpus = folder / "sentences.txt"
    corpus.write_text("\n".join(texts(3000)) + "\n", encoding="utf-8")
    rnnkit.run(rnnkit.load_config(ROOT / "configs" / "shakespeare_char.toml",
                                  [f"--task.path={corpus}", *quiet, f"--out_dir={folder / 'lm'}"]))
    return folder / "classifier", folder / "lm"


def texts(count: int) -> list[str]:
    import pandas as pd

    return pd.read_csv(SENTENCES)["text"].astype(str).tolist()[:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    rnnkit = Path(sys.executable).with_name("rnnkit")
    process = subprocess.Popen([str(rnnkit), "serve", str(run_dir), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"rnnkit serve {run_dir} stopped: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"rnnkit serve {run_dir} did not answer /health in 60 s")


class Memory:
    """Samples a process's resident memory (MiB) in a thread until stopped."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every, self.samples = pid, every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_mib(self.pid))
            time.sleep(self.every)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def level(url: str, path: str, bodies, clients: int, seconds: float, budget: int) -> dict:
    """`clients` closed-loop clients for `seconds` (or `budget` requests): latencies and errors."""
    latencies, errors, sent = [], [], [0]
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient, index: int) -> None:
        while time.perf_counter() < deadline and sent[0] < budget:
            sent[0] += 1
            body = bodies(sent[0])
            start = time.perf_counter()
            try:
                reply = await http.post(path, json=body)
                if reply.status_code != 200:
                    errors.append(f"{reply.status_code}: {reply.text[:200]}")
            except httpx.HTTPError as error:
                errors.append(repr(error))
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(http, i) for i in range(clients)))
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "throughput_rps": len(latencies) / wall, "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}


def measure(name: str, run_dir: Path, path: str, bodies, a: argparse.Namespace) -> list[dict]:
    process, url = start_server(run_dir)
    rows = []
    try:
        asyncio.run(level(url, path, bodies, 2, 2.0, 50))                    # warm-up, not reported
        with Memory(process.pid) as memory:
            for clients in a.clients:
                before = len(memory.samples)
                row = asyncio.run(level(url, path, bodies, clients, a.seconds, a.max_requests))
                seen = memory.samples[before:] or [rss_mib(process.pid)]
                row.update(model=name, rss_start_mib=seen[0], rss_end_mib=seen[-1], rss_max_mib=max(seen))
                rows.append(row)
                print(json.dumps(row), flush=True)
        alive = process.poll() is None and httpx.get(f"{url}/health", timeout=5).status_code == 200
        for row in rows:
            row["server_alive_after"] = alive
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | clients | requests | errors | throughput (req/s) | p50 (ms) | p99 (ms) | server RSS start -> "
             "end (max), MiB |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['clients']} | {r['requests']} | {r['errors']} | {r['throughput_rps']:.1f} "
                     f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['rss_start_mib']:.0f} -> {r['rss_end_mib']:.0f} "
                     f"({r['rss_max_mib']:.0f}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", type=Path, help="a text classification run (default: a stand-in)")
    parser.add_argument("--lm", type=Path, help="a language_modeling run (default: a stand-in)")
    parser.add_argument("--clients", type=lambda s: [int(c) for c in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=15.0, help="per level")
    parser.add_argument("--max-requests", type=int, default=3000, help="per level")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per /generate request")
    parser.add_argument("--json", help="also write the rows here")
    a = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if a.classifier is None or a.lm is None:
            classifier, lm = train_stand_ins(Path(tmp))
            a.classifier, a.lm = a.classifier or classifier, a.lm or lm
        sentences = texts(300)
        pick = random.Random(0)
        rows = measure("text classifier", a.classifier, "/classify", lambda i: {"texts": [pick.choice(sentences)]}, a)
        rows += measure("language model", a.lm, "/generate",
                        lambda i: {"prompt": "the ", "tokens": a.tokens, "seed": i}, a)
    print(f"\n{os.cpu_count()} CPUs, client and server on one machine; {a.seconds:g} s or {a.max_requests} "
          f"requests per level\n" + table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
