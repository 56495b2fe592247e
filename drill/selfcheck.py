"""The fast subset of the drill where no cluster can be built: the checker against recorded runs.

One clean run must pass, and each kind of damage the drill looks for (a lost acknowledged write, an
event never delivered, a change applied twice, a write accepted by a cut-off node, a periodic job run
twice, writes back too late) must fail it with the reason named; a lost write of a direct client is
reported but must not fail it. tests/drill does the same in pytest.
"""

from __future__ import annotations

from dataclasses import replace

from drill.checker import Arrival, Observations, PeriodicClaim, ProbeAck, Window, Write, check


def clean_run() -> Observations:
    t = 1_000.0
    windows = [
        Window("steady load", t, t + 10, None),
        Window("Patroni kill -9", t + 10, t + 40, 11.0),
    ]
    writes = [Write("intake", f"k{i}", t + i, t + i + 0.2, f"lead-{i}") for i in range(0, 40, 1) if not 11 <= i <= 20]
    writes.append(Write("api", "slow", t + 11, t + 21.5, "prospect-1", errors=3))
    stored = {w.object_id for w in writes if w.object_id}
    events = {f"e{i}": t + i + 0.1 for i in range(0, 40, 2)}
    arrivals = [Arrival(e, "lead.created", f"lead-{e}", 1, at + 1, True) for e, at in events.items()]
    arrivals.append(Arrival("e12", "lead.created", "lead-e12", 1, t + 14, False))  # a redelivery, deduped by id
    probes = [ProbeAck(f"p{i}", "db1", t + i) for i in range(10)]
    claims = [PeriodicClaim(1, "relay-sweep", "s1", 1, t + 2), PeriodicClaim(1, "relay-sweep", "s1", 1, t + 30)]
    return Observations(
        windows=windows,
        writes=writes,
        stored={s for s in stored if s},
        events=events,
        arrivals=arrivals,
        probe_acks=probes,
        probe_stored={p.probe_id for p in probes},
        periodic_claims=claims,
    )


def damaged_runs() -> dict[str, Observations]:
    """Each a copy of the clean run with one kind of damage, by the failure reason it must produce."""
    base = clean_run()
    t = base.windows[1].started_at
    return {
        "acknowledged writes lost": replace(base, stored=base.stored - {"lead-25"}),
        "events not delivered": replace(base, arrivals=[a for a in base.arrivals if a.event_id != "e24"]),
        "changes applied twice": replace(
            base, arrivals=[*base.arrivals, Arrival("e99", "lead.created", "lead-e24", 1, t + 20, True)]
        ),
        "delivered for changes the database does not have": replace(
            base, arrivals=[*base.arrivals, Arrival("ghost", "lead.created", "lead-x", 1, t + 20, True)]
        ),
        "accepted by a cut-off node": replace(base, probe_acks=[*base.probe_acks, ProbeAck("late", "db1", t + 12)]),
        # a direct client's lost write is reported, never judged: the clean verdict must survive it
        "": replace(base, probe_acks=[*base.probe_acks, ProbeAck("direct", "db1", t + 12, "direct")]),
        "periodic jobs run twice": replace(
            base, periodic_claims=[*base.periodic_claims, PeriodicClaim(7, "relay-sweep", "s1", 2, t + 15)]
        ),
        "limit": replace(base, windows=[base.windows[0], replace(base.windows[1], manager_seconds=3.0)]),
        "never acknowledged": replace(base, writes=[*base.writes, Write("api", "gave-up", t + 5, None)]),
    }


def problems() -> list[str]:
    """What is wrong with the checker; empty when it judges every recorded run right."""
    found = []
    rows = check(clean_run())
    if not all(row.passed for row in rows):
        found.append(f"a clean run failed: {[r.failures for r in rows]}")
    for reason, observations in damaged_runs().items():
        failures = [f for row in check(observations) for f in row.failures]
        if reason and not any(reason in failure for failure in failures):
            found.append(f"damage '{reason}' not reported (got {failures})")
        if not reason and failures:
            found.append(f"a lost direct write failed the run: {failures}")
    return found
