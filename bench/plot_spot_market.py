#!/usr/bin/python3
"""Draws the 30-day spot market run (bench/spot_market_sim.cc) as docs/spot-market-30d.png.

    build/bin/kumo_spot_market_sim 30 > /tmp/sim.csv
    /usr/bin/python3 bench/plot_spot_market.py /tmp/sim.csv docs/spot-market-30d.png

Needs python3-matplotlib (apt-get install python3-matplotlib); only for redrawing the picture.
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ON_DEMAND = 0.972  # p2.xlarge in the catalog's eu-west-1


def main(src, dst):
    rows = list(csv.DictReader(open(src)))
    days = [int(r["hour"]) / 24 for r in rows]
    price = [float(r["price"]) for r in rows]
    spot = [int(r["spot_running"]) for r in rows]
    od = [int(r["on_demand"]) for r in rows]
    cap = [int(r["capacity"]) for r in rows]
    intr = [int(r["interruptions"]) for r in rows]
    opened = [int(r["open_requests"]) for r in rows]

    fig, (a, b, c) = plt.subplots(3, 1, figsize=(12, 9), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 3, 2]})
    fig.suptitle("Kumo spot market, auction mode: p2.xlarge in one zone, 80 GPUs, 30 simulated "
                 "days (bench/spot_market_sim.cc)", fontsize=11)
    a.step(days, price, where="post", color="tab:blue", label="spot price")
    a.axhline(ON_DEMAND, color="tab:red", ls="--", lw=1, label="On-Demand 0.972")
    a.axhline(0.3 * ON_DEMAND, color="gray", ls=":", lw=1, label="reserve 0.30 × On-Demand")
    a.set_ylabel("USD per hour")
    a.legend(loc="upper right", fontsize=8)
    a.grid(alpha=0.3)

    b.stackplot(days, od, spot, labels=["on-demand", "spot"], colors=["tab:orange", "tab:green"],
                alpha=0.8)
    b.plot(days, cap, color="black", lw=1, label="capacity")
    b.plot(days, [o + s for o, s in zip(od, opened)], color="gray", lw=0.6, alpha=0.6,
           label="on-demand + waiting spot requests")
    b.set_ylabel("GPUs")
    b.legend(loc="upper right", fontsize=8)
    b.grid(alpha=0.3)

    c.bar(days, intr, width=1 / 24, color="tab:purple")
    c.set_ylabel("interruptions / hour")
    c.set_xlabel("day")
    c.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=80)
    total = sum(intr)
    util = sum(min(1.0, (o + s) / k) for o, s, k in zip(od, spot, cap)) / len(rows)
    print(f"{len(rows)} hours; interruptions {total}; mean utilisation {util:.1%}; "
          f"price median {sorted(price)[len(price) // 2]:.4f}, max {max(price):.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
