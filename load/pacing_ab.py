"""Open pacing's own cost, old user split against new: the generator alone against the null endpoint.

Two ways of carrying one rate open-loop, alternating at each rate so they meet the same machine: ``old``,
⌈rate / 5⌉ users of 5 events/s each with 10 in flight (how ``--pacing open`` split the rate before
``--open-users``), and ``new``, ``OPEN_USERS`` users per process with ``MAX_IN_FLIGHT`` each. The endpoint
answers at once (load/bare.py, ``null`` mode, as bench-load's generator phase), so how late the sends start
(``late_ms``) and the generator's CPU per request are the generator's alone; ``--answer-ms`` delays each answer
(without CPU), so each mode holds requests in flight as against a slow server. On a shared machine the load
average is kept beside every figure: compare within one run only.

Usage::

    python -m load.pacing_ab --rates 150,300,600 --seconds 10 --rounds 2 --artefacts artefacts/pacing-ab
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.argtypes import non_negative_float, plain, positive_float, positive_int
from harness.stack import Stack
from load.bench import _rank, _steady, bare_server, locust_run, postmaster_pid
from load.ledger import read_ledger
from load.runner import REPO
from load.shapes import MAX_IN_FLIGHT, OPEN, OPEN_USERS
from supervise import run_scratch

OLD_USER_RATE = 5.0  # the old split: one user per 5 events/s
OLD_CAP = 10  # and its cap per user


def splits(rate: float) -> dict[str, tuple[int, int]]:
    """Each mode's (users, cap per user) at ``rate`` events/s on one Locust process."""
    return {"old": (math.ceil(rate / OLD_USER_RATE), OLD_CAP), "new": (OPEN_USERS, MAX_IN_FLIGHT)}


def late_window(ledger_dir: Path, start: float, end: float) -> dict[str, float]:
    """p50 and p99 of how late first tries started, over the run's steady window (epoch seconds)."""
    late = sorted(e.late_ms for e in read_ledger(ledger_dir)
                  if e.code is not None and e.try_no == 1 and start <= e.at <= end)
    return {"late_p50_ms": round(_rank(late, 0.5), 2), "late_p99_ms": round(_rank(late, 0.99), 2)} if late else {}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = Path(args.artefacts).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with Stack.start(with_simulators=False, with_core=False, log_dir=out / "logs") as stack:
        postmaster = postmaster_pid(stack.postgres)
        roots = (os.getpid(),) if postmaster is None else (os.getpid(), postmaster)
        null = bare_server("null", dsn=stack.urls["database"], workers=args.null_workers, log_dir=stack.log_dir,
                           null_delay_ms=args.answer_ms)
        try:
            for n in range(1, args.rounds + 1):
                for k, rate in enumerate(args.rates):
                    order = ("old", "new") if (n + k) % 2 else ("new", "old")
                    for mode in order:
                        users, cap = splits(rate)[mode]
                        name = f"{mode}-{rate:g}-{n}"
                        load1 = os.getloadavg()[0]
                        m = locust_run(name, host=null.url, stack=stack, out=out / name, offered=rate,
                                       seconds=args.seconds, user_rate=OLD_USER_RATE, audit=False, pacing=OPEN,
                                       max_in_flight=cap, open_users=users, cpu_roots=roots)
                        steady = _steady(out / name / "ledger")  # the window bench-load's figures use
                        window = late_window(out / name / "ledger", steady.start, steady.end)
                        row = {"mode": mode, "rate": rate, "round": n, "users": users, "cap_per_user": cap,
                               "achieved": m.achieved, "not_sent": m.not_sent, **window,
                               "generator_cpu_ms_per_request": m.cpu_ms_per_request.get("generator"),
                               "generator_cores": m.cpu_cores.get("generator"),
                               "load1_before": round(load1, 2), "load1_window": m.load1,
                               "others_cores": m.others_cores}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        finally:
            null.stop()
    (out / "pacing_ab.json").write_text(json.dumps({"rates": args.rates, "seconds": args.seconds,
                                                    "answer_ms": args.answer_ms, "rows": rows}, indent=2))
    return rows


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: rates such as 150,300,600") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: positive rates")
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m load.pacing_ab", description=plain(__doc__))
    p.add_argument("--rates", type=_rates, default=[150.0, 300.0, 600.0], help="events/s, comma-separated")
    p.add_argument("--seconds", type=positive_float, default=10.0, help="seconds of each run")
    p.add_argument("--rounds", type=positive_int, default=2, help="old and new at every rate, this many times")
    p.add_argument("--answer-ms", type=non_negative_float, default=0.0,
                   help="the null endpoint answers this many ms late (0: at once), so requests stay in flight")
    p.add_argument("--null-workers", type=positive_int, default=2, help="uvicorn workers of the null endpoint")
    p.add_argument("--artefacts", default=str(REPO / "artefacts" / "pacing-ab"), help="folder for pacing_ab.json")
    args = p.parse_args(argv)
    with run_scratch():
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
