"""``python -m clusters.scenarios list | write NAME OUT [--seed N] [--cluster C] | fleet OUT [--seed N] |
fleet-scale OUT [--clusters M] [--alerts N] [--hours H] [--workers W] [--seed N]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .compose import write_scenario
from .fleet import write_fleet
from .library import SCENARIOS
from .scale import write_fleet_at_scale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clusters.scenarios", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list scenarios with their expected category and trigger")
    w = sub.add_parser("write", help="write one scenario: OUT/dump, OUT/alerts.jsonl, OUT/expected.json")
    w.add_argument("name", choices=sorted(SCENARIOS))
    w.add_argument("out")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--cluster", default="sim-1")
    w.add_argument("--cluster-label", action="store_true", help="add a `cluster` external label to alerts")
    f = sub.add_parser("fleet", help="write the demo fleet to OUT")
    f.add_argument("out")
    f.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("fleet-scale", help="write a large fleet with scheduled faults, storms and flapping to OUT")
    s.add_argument("out")
    s.add_argument("--clusters", type=int, default=100)
    s.add_argument("--alerts", type=int, default=10_000, help="about how many alerts the fleet fires")
    s.add_argument("--hours", type=float, default=6.0, help="hours of event time before the capture")
    s.add_argument("--workers", type=int, default=1, help="processes building clusters (the output is the same)")
    s.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for s in SCENARIOS.values():
            print(f"{s.name:28} {s.category:28} {s.trigger:14} {s.summary}")
    elif args.cmd == "write":
        r = write_scenario(args.name, args.out, cluster=args.cluster, seed=args.seed, cluster_label=args.cluster_label)
        print(f"wrote {r.root}: {r.notifications} webhooks, {len(r.incidents)} incident(s)")
    elif args.cmd == "fleet-scale":
        sm = write_fleet_at_scale(args.out, clusters=args.clusters, target_alerts=args.alerts, hours=args.hours,
                                  workers=args.workers, seed=args.seed)
        print(f"wrote {sm.clusters} clusters to {sm.root}: {sm.alerts} alerts in {sm.webhooks} webhooks, "
              f"{sm.incidents} incidents ({sm.fleet_incidents} fleet-wide); ground truth: {sm.ground_truth}")
    else:
        m = write_fleet(args.out, seed=args.seed)
        for c in m.clusters.values():
            print(f"{c.name}: {c.root} ({c.notifications} webhooks, {len(c.incidents)} incidents)")
        print(f"ground truth: {m.ground_truth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
