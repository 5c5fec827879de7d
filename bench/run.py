#!/usr/bin/env python3
"""pinscope benchmark: wall time, handshakes per second, CPU time and peak memory of an audit of N
TLS endpoints on loopback, beside what today's tools cost on the same endpoints.

Everything runs on this machine: one TLS server (examples/bench_server.rs) answers for every name
under *.bench.test, optionally behind a relay that adds a round trip in user space (no netem
here), and pinscope reaches each name through --resolve. For comparison, in the same run and
against the same server:
  - a serial `openssl s_client` loop, as the network-check scripts people use today do;
  - sslyze (PyPI) with only certificate information (--certinfo).
The comparison tools run on a sample of the targets (they are slow), and throughput is compared.
A "blocked network" run points every target at a black hole and measures the wall time against
the per-target timeout.

Usage:
    python3 bench/run.py                   # the full set (takes a few minutes)
    python3 bench/run.py --quick           # N=100 and 1000, fewer repeats
    python3 bench/run.py --sizes 100,1000 --rtt-ms 50 --repeats 5
    python3 bench/run.py --stream-targets 200000   # only the streaming-memory row

Results are printed as Markdown; docs/performance.md records a run and how to read it.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build() -> tuple[Path, Path]:
    env = dict(os.environ)
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--bin", "pinscope", "--example", "bench_server"],
        cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL,
    )
    target = Path(env.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "pinscope", target / "release" / "examples" / "bench_server"


class Server:
    """The bench server as a child process."""

    def __init__(self, binary: Path, workdir: Path, rtt_ms: int = 0, blackhole: bool = False):
        self.ca = workdir / f"ca-{rtt_ms}-{int(blackhole)}.pem"
        args = [str(binary), "--ca-out", str(self.ca), "--rtt-ms", str(rtt_ms)]
        if blackhole:
            args.append("--blackhole")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline().strip())

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def names(n: int) -> list[str]:
    return [f"h{i:05d}.bench.test" for i in range(n)]


TIME = shutil.which("time") or "/usr/bin/time"


def measured(args: list[str]) -> dict:
    """Runs a command; returns wall seconds, CPU seconds and peak RSS (MiB) of that command alone.

    Peak RSS comes from GNU time, not from this process's wait4: Linux keeps a process's RSS
    high-water mark across exec, so a child forked from this (by now large) Python process would
    report Python's size rather than its own.
    """
    started = time.perf_counter()
    proc = subprocess.run([TIME, "-f", "pinscope-bench %e %U %S %M", *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    lines = proc.stderr.splitlines()
    stats = next((line.split() for line in reversed(lines) if line.startswith("pinscope-bench ")), None)
    if stats is None:
        raise SystemExit(f"GNU time did not report: {proc.stderr.strip()}")
    _, elapsed, user, system, rss_kib = stats
    return {
        "wall": float(elapsed) if float(elapsed) > 0 else wall,
        "cpu": float(user) + float(system),
        "rss_mib": int(rss_kib) / 1024,
        "code": proc.returncode,
        "stderr": "\n".join(line for line in lines if not line.startswith("pinscope-bench ")),
    }


RUNS = iter(range(1_000_000))


def pinscope_run(pinscope: Path, server: Server, n: int, workdir: Path, timeout: float, concurrency: int,
                 ca: Path | None = None) -> dict:
    run = next(RUNS)
    targets = workdir / f"targets-{run}.txt"
    targets.write_text("".join(f"{h}:{server.port}\n" for h in names(n)))
    out = workdir / f"result-{run}.json"
    roots = ca or server.ca
    args = [
        str(pinscope), "audit", f"--targets={targets}", f"--resolve=*:{server.port}:127.0.0.1",
        f"--public-roots={roots}", f"--native-roots={roots}", "--no-revocation",
        f"--timeout={timeout}", f"--concurrency={concurrency}", "--format=json", f"--output={out}",
    ]
    result = measured(args)
    if result["code"] == 2 or not out.exists():
        raise SystemExit(f"pinscope failed: {result['stderr'].strip()}")
    result["out"] = out
    return result


def check_verdicts(out: Path, n: int, expected: str) -> None:
    import json

    doc = json.loads(out.read_text())
    got = doc["summary"].get(expected, 0)
    if doc["summary"]["total"] != n or got != n:
        raise SystemExit(f"benchmark run is not what it claims: {doc['summary']} (wanted {n} {expected})")


def openssl_serial(server: Server, sample: list[str]) -> float:
    """Seconds per target for a serial `openssl s_client` loop, as scripts do it."""
    openssl = shutil.which("openssl")
    if not openssl:
        return float("nan")
    started = time.perf_counter()
    for host in sample:
        subprocess.run(
            [openssl, "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", host,
             "-showcerts", "-CAfile", str(server.ca)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
        )
    return (time.perf_counter() - started) / len(sample)


def sslyze_run(server: Server, sample: list[str]) -> float:
    """Seconds per target for sslyze --certinfo on the sample (one sslyze run, its own concurrency)."""
    try:
        import sslyze  # noqa: F401
    except ImportError:
        return float("nan")
    args = [sys.executable, "-m", "sslyze", "--certinfo", "--quiet"]
    args += [f"{h}:{server.port}{{127.0.0.1}}" for h in sample]
    started = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    return (time.perf_counter() - started) / len(sample)


def single_handshake(pinscope: Path, server: Server, workdir: Path, repeats: int) -> float:
    """The slowest single-target audit: what one handshake costs end to end."""
    walls = [pinscope_run(pinscope, server, 1, workdir, 10, 1)["wall"] for _ in range(repeats)]
    return max(walls)


def refused_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_memory(pinscope: Path, n: int, concurrency: int, work: Path) -> None:
    """`--format jsonl -o` over N targets that all refuse the connection: peak RSS, which should
    follow --concurrency rather than N (results are written as they finish and not kept)."""
    port = refused_port()
    targets = work / f"refused-{n}.txt"
    out = work / f"refused-{n}.jsonl"
    rows = []
    for size in sorted({n // 10, n}):
        targets.write_text("".join(f"{h}:{port}\n" for h in names(size)))
        r = measured([
            str(pinscope), "audit", f"--targets={targets}", f"--resolve=*:{port}:127.0.0.1",
            "--no-revocation", "--timeout=5", f"--concurrency={concurrency}", "--format=jsonl",
            f"--output={out}",
        ])
        lines = out.read_text().splitlines()
        if r["code"] != 3 or len(lines) != size + 1 or f'"blocked":{size}' not in lines[-1]:
            raise SystemExit(f"streaming run is not what it claims: exit {r['code']}, {r['stderr'].strip()}")
        rows.append((size, r))
    print(f"JSON Lines, every target a refused port on loopback, --concurrency {concurrency}\n")
    print("| targets | wall (s) | CPU (s) | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for size, r in rows:
        print(f"| {size} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--rtt-ms", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=50, help="targets for the openssl/sslyze comparison")
    parser.add_argument("--blackhole-timeout", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stream-targets", type=int, default=0,
                        help="only measure JSON Lines' peak memory over this many refused targets")
    parser.add_argument("--stream-concurrency", type=int, default=512)
    opts = parser.parse_args()
    if opts.quick:
        opts.sizes, opts.repeats, opts.sample = "100,1000", 3, 20
    sizes = [int(s) for s in opts.sizes.split(",")]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pinscope, server_bin = build()
    work = Path(tempfile.mkdtemp(prefix="pinscope-bench-"))
    if opts.stream_targets:
        print(f"# pinscope benchmark: streaming memory\n")
        print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
              f"{platform.platform()}\n")
        stream_memory(pinscope, opts.stream_targets, opts.stream_concurrency, work)
        shutil.rmtree(work, ignore_errors=True)
        return
    print(f"# pinscope benchmark\n")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.platform()}, open files {hard}\n")

    rows = []
    ca = None
    for rtt in sorted({0, opts.rtt_ms}):
        server = Server(server_bin, work, rtt_ms=rtt)
        ca = server.ca
        try:
            one = single_handshake(pinscope, server, work, opts.repeats)
            for n in sizes:
                runs = []
                for _ in range(opts.repeats):
                    r = pinscope_run(pinscope, server, n, work, 30, n)
                    check_verdicts(r["out"], n, "pass")
                    runs.append(r)
                wall = statistics.median(r["wall"] for r in runs)
                rows.append({
                    "rtt": rtt, "n": n, "wall": wall,
                    "hps": n / wall,
                    "cpu": statistics.median(r["cpu"] for r in runs),
                    "rss": max(r["rss_mib"] for r in runs),
                    "single": one,
                })
            sample = names(opts.sample)
            per_openssl = openssl_serial(server, sample)
            per_sslyze = sslyze_run(server, sample)
            for row in rows:
                if row["rtt"] == rtt:
                    row["openssl_x"] = per_openssl / (row["wall"] / row["n"])
                    row["sslyze_x"] = per_sslyze / (row["wall"] / row["n"])
                    row["openssl_s"] = per_openssl
                    row["sslyze_s"] = per_sslyze
        finally:
            server.stop()

    print(f"median of {opts.repeats} runs; concurrency = N; comparison tools on {opts.sample} targets\n")
    print("| added RTT | N | wall (s) | handshakes/s | CPU (s) | peak RSS (MiB) | wall / slowest single | vs serial openssl | vs sslyze |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['rtt']} ms | {r['n']} | {r['wall']:.2f} | {r['hps']:.0f} | {r['cpu']:.2f} | {r['rss']:.1f} | "
              f"{r['wall'] / r['single']:.2f}× | {r['openssl_x']:.0f}× | {r['sslyze_x']:.1f}× |")
    print()
    for rtt in sorted({r["rtt"] for r in rows}):
        r = next(x for x in rows if x["rtt"] == rtt)
        print(f"- {rtt} ms added RTT: slowest single-target audit {r['single']:.3f} s; serial openssl "
              f"{r['openssl_s'] * 1000:.0f} ms/target; sslyze {r['sslyze_s'] * 1000:.0f} ms/target")

    # A fully blocked network: every target a black hole.
    hole = Server(server_bin, work, blackhole=True)
    try:
        n = max(sizes)
        walls = []
        for _ in range(max(1, opts.repeats // 2)):
            r = pinscope_run(pinscope, hole, n, work, opts.blackhole_timeout, n, ca=ca)
            check_verdicts(r["out"], n, "timeout")
            walls.append(r["wall"])
        wall = statistics.median(walls)
        print(f"- blocked network: {n} black-holed targets with --timeout {opts.blackhole_timeout} finish in "
              f"{wall:.2f} s ({wall / opts.blackhole_timeout:.2f}× the timeout)")
    finally:
        hole.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
