#!/usr/bin/env python3
"""pinscope serve soak: memory, file descriptors, threads and CPU per audit over many scheduled
audits of the catalog's size, and the cost of one /metrics scrape of a catalog-sized audit.

Everything runs on this machine. One TLS server (examples/bench_server.rs, a certificate for
*.bench.test from a throwaway CA) answers on one loopback port; `pinscope serve` (release build)
audits the whole built-in catalog with `--connect-to ::127.0.0.1:PORT`, so every row, whatever
its host, port and transport, is sent to that server, and the throwaway CA is given as the native
store only (the docs' "every name pointed at one loopback server whose CA only this machine
trusts": intercepted, protocol errors, a timeout). The schedule runs at the shortest interval
serve accepts (1 s) until --audits scheduled audits have finished or --max-minutes have passed,
whichever is first; the number actually run is printed, nothing is extrapolated.

Audits are counted from serve's one log line per audit ("audit done:"); /metrics is scraped every
--scrape-every seconds, as a Prometheus would, and its pinscope_audits_total is checked against
that count at the end. From /proc/PID: VmRSS and VmHWM, open file descriptors, threads, and
utime + stime, sampled after audit --start-at (the start), every --sample-every audits, and at the
end. CPU per audit is the CPU-time delta over a window of --window audits divided by its audits:
the first window after the start sample, and the last window.

Usage:
    python3 bench/soak.py                       # 1,000 audits or 15 minutes
    python3 bench/soak.py --audits 100 --max-minutes 5

Results are printed as Markdown; docs/performance.md ("serve soak") records a run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: build() and the bench server)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 60) -> tuple[int, bytes, float]:
    """GET over HTTP/1.0 (no chunking, no keep-alive): status, body, seconds until the last byte."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    took = time.perf_counter() - started
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, body, took


def metric(text: str, name: str) -> float | None:
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


class Sample:
    """What /proc says about one process at one moment."""

    def __init__(self, pid: int, audits: int, started: float):
        self.audits = audits
        self.at = time.monotonic() - started
        status = Path(f"/proc/{pid}/status").read_text()
        field = lambda name: int(re.search(rf"^{name}:\s+(\d+)", status, re.M).group(1))  # noqa: E731
        self.rss_kib = field("VmRSS")
        self.hwm_kib = field("VmHWM")
        self.threads = field("Threads")
        self.fds = len(os.listdir(f"/proc/{pid}/fd"))
        # /proc/PID/stat: the command may hold spaces, so split after its closing parenthesis;
        # utime and stime are fields 14 and 15 (1-based), 12 and 13 after the parenthesis.
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        self.cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK


def audits_done(log: Path) -> int:
    try:
        return log.read_text(errors="replace").count("pinscope serve: audit done:")
    except FileNotFoundError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audits", type=int, default=1000)
    parser.add_argument("--max-minutes", type=float, default=15.0)
    parser.add_argument("--interval", type=int, default=1, help="serve --interval (1 is the least it accepts)")
    parser.add_argument("--timeout", type=float, default=1.0, help="serve --timeout per target")
    parser.add_argument("--start-at", type=int, default=10)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--sample-every", type=int, default=50)
    parser.add_argument("--scrape-every", type=float, default=10.0)
    parser.add_argument("--scrapes", type=int, default=20, help="timed /metrics scrapes at the end")
    opts = parser.parse_args()

    pinscope, server_bin = bench.build()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=bench.ROOT,
                            capture_output=True, text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="pinscope-soak-"))
    server = bench.Server(server_bin, work)
    port = free_port()
    log = work / "serve.stderr"
    args = [
        str(pinscope), "serve", f"--listen=127.0.0.1:{port}", f"--interval={opts.interval}",
        f"--connect-to=::127.0.0.1:{server.port}", f"--native-roots={server.ca}", "--no-revocation",
        f"--timeout={opts.timeout}",
    ]
    serve = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=log.open("w"))
    try:
        run(opts, serve, port, log, args, commit)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(opts, serve: subprocess.Popen, port: int, log: Path, args: list[str], commit: str) -> None:
    started = time.monotonic()
    deadline = started + opts.max_minutes * 60
    samples: list[Sample] = []
    next_sample = opts.start_at
    next_scrape = 0.0
    scrapes = 0
    last_total = None
    done = 0
    while True:
        if serve.poll() is not None:
            raise SystemExit(f"pinscope serve exited with {serve.returncode}:\n{log.read_text()}")
        done = audits_done(log)
        if done >= next_sample:
            samples.append(Sample(serve.pid, done, started))
            while next_sample <= done:
                next_sample += opts.sample_every
        now = time.monotonic()
        if now >= next_scrape and done > 0:
            status, body, _ = http_get(port, "/metrics")
            if status != 200:
                raise SystemExit(f"/metrics answered {status}")
            last_total = metric(body.decode(), "pinscope_audits_total")
            scrapes += 1
            next_scrape = now + opts.scrape_every
        if done >= opts.audits or now >= deadline:
            break
        time.sleep(0.1)
    end = Sample(serve.pid, done, started)
    if samples and samples[-1].audits != end.audits:
        samples.append(end)
    elapsed = time.monotonic() - started

    # The scrape of a catalog-sized audit: timed, sized, and checked.
    timings = []
    for _ in range(opts.scrapes):
        status, body, took = http_get(port, "/metrics")
        timings.append(took)
    text = body.decode()
    total = metric(text, "pinscope_audits_total")
    panics = metric(text, "pinscope_audit_panics_total")
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    status, results, _ = http_get(port, "/results.json")
    import json

    summary = json.loads(results)["summary"]
    verdicts = ", ".join(f"{v} {k}" for k, v in sorted(summary.items(), key=lambda kv: -kv[1])
                         if k not in ("total", "exit_code", "not_probed") and isinstance(v, int) and not isinstance(v, bool) and v)
    durations = [float(m) for m in re.findall(r"audit done: .* took ([\d.]+) s", log.read_text())]

    first = samples[0]
    window_start = next((s for s in samples if s.audits >= first.audits + opts.window), None)
    window_end_from = next((s for s in reversed(samples) if s.audits <= end.audits - opts.window), None)
    per_audit = lambda a, b: (b.cpu - a.cpu) / (b.audits - a.audits) if b.audits > a.audits else float("nan")  # noqa: E731

    print("# pinscope serve soak\n")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
          f"commit {commit}\n")
    print("command: `" + " ".join(["pinscope"] + args[1:]).replace(str(log.parent), "$WORK") + "`\n")
    print(f"- scheduled audits finished: {done} in {elapsed / 60:.1f} min "
          f"(asked for {opts.audits}, at most {opts.max_minutes:g} min); pinscope_audits_total "
          f"{total:.0f}, pinscope_audit_panics_total {panics:.0f}; /metrics scraped {scrapes} times "
          f"during the run (the last before the end read {last_total})")
    print(f"- each audit: {summary['total']} targets ({verdicts}); audit wall time median "
          f"{statistics.median(durations):.2f} s, max {max(durations):.2f} s")
    print()
    print("| | audits done | RSS (MiB) | peak RSS so far (MiB) | open fds | threads | CPU (s, total) |")
    print("|---|---|---|---|---|---|---|")
    for label, s in (("start", first), ("end", end)):
        print(f"| {label} | {s.audits} | {s.rss_kib / 1024:.1f} | {s.hwm_kib / 1024:.1f} | {s.fds} | "
              f"{s.threads} | {s.cpu:.2f} |")
    print()
    if window_start:
        print(f"- CPU per audit, audits {first.audits}–{window_start.audits} (start): "
              f"{per_audit(first, window_start) * 1000:.0f} ms")
    if window_end_from:
        print(f"- CPU per audit, audits {window_end_from.audits}–{end.audits} (end): "
              f"{per_audit(window_end_from, end) * 1000:.0f} ms")
    print(f"- CPU per audit, audits {first.audits}–{end.audits} (whole run after the start): "
          f"{per_audit(first, end) * 1000:.0f} ms (the /metrics scrapes included)")
    print()
    print(f"One `/metrics` scrape of this audit ({summary['total']} targets): {series} series, "
          f"{len(body):,} bytes ({len(gzip.compress(body)):,} gzipped, as serve sends it to a scraper asking for gzip; this scrape does not ask), "
          f"median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms "
          f"over {opts.scrapes} scrapes (HTTP/1.0 from Python, first byte sent to last byte read)\n")
    print("Samples:\n")
    print("| audits | minutes | RSS (MiB) | fds | threads | CPU (s) |")
    print("|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s.audits} | {s.at / 60:.1f} | {s.rss_kib / 1024:.1f} | {s.fds} | {s.threads} | {s.cpu:.2f} |")


if __name__ == "__main__":
    main()
