"""The drill's checker (drill/checker.py) counts lost, doubled and split-brain writes from recorded runs."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

from drill import checker, selfcheck
from drill.checker import Arrival, Observations, PeriodicClaim, ProbeAck, Window, Write, check, gap_after

T = 1_000.0


def run_with(**changes: object) -> Observations:
    return replace(selfcheck.clean_run(), **changes)


def rows_by_fault(observations: Observations) -> dict[str, checker.Row]:
    return {row.fault: row for row in check(observations)}


def test_a_clean_run_passes_with_one_row_per_fault_and_every_write_counted():
    observations = selfcheck.clean_run()

    rows = rows_by_fault(observations)

    assert list(rows) == ["steady load", "Patroni kill -9"]
    assert all(row.passed for row in rows.values())
    fault = rows["Patroni kill -9"]
    assert (fault.intake_acked, fault.intake_stored) == (20, 20)  # sent at +10 and +21..+39
    assert (fault.api_acked, fault.api_stored, fault.client_errors) == (1, 1, 3)
    assert fault.gap_seconds == 11.0  # from the injection at +10 to the next acknowledgement at +21.2, +21.5
    assert fault.limit_seconds == 16.0  # Patroni's 11 s plus the grace
    assert rows["steady load"].redelivered == 0
    assert fault.redelivered == 1  # e12 came twice; the receiver applied it once


def test_an_acknowledged_write_missing_from_the_database_is_lost_in_the_window_it_was_sent():
    observations = run_with(stored=selfcheck.clean_run().stored - {"lead-3", "lead-25"})

    rows = rows_by_fault(observations)

    assert rows["steady load"].lost == 1
    assert rows["Patroni kill -9"].lost == 1
    assert rows["Patroni kill -9"].failures == ["1 acknowledged writes lost"]


def test_a_write_never_acknowledged_fails_but_is_not_counted_as_lost():
    base = selfcheck.clean_run()
    observations = run_with(writes=[*base.writes, Write("intake", "gave-up", T + 12, None, None, errors=40)])

    row = rows_by_fault(observations)["Patroni kill -9"]

    assert (row.lost, row.unacked) == (0, 1)
    assert "1 writes never acknowledged" in row.failures


def test_events_missing_at_the_receiver_and_phantom_events_are_both_failures():
    base = selfcheck.clean_run()
    arrivals = [a for a in base.arrivals if a.event_id != "e30"]
    arrivals.append(Arrival("not-in-db", "lead.created", "lead-z", 1, T + 31, True))

    row = rows_by_fault(run_with(arrivals=arrivals))["Patroni kill -9"]

    assert (row.events_missing, row.events_phantom) == (1, 1)
    assert row.events_applied == row.events - 1


def test_a_redelivered_id_is_harmless_but_one_change_under_two_ids_is_applied_twice():
    base = selfcheck.clean_run()
    redelivered = Arrival("e20", "lead.created", "lead-e20", 1, T + 25, False)
    same_change = Arrival("e22-copy", "lead.created", "lead-e22", 1, T + 26, True)

    harmless = rows_by_fault(run_with(arrivals=[*base.arrivals, redelivered]))["Patroni kill -9"]
    doubled = rows_by_fault(run_with(arrivals=[*base.arrivals, same_change]))["Patroni kill -9"]

    assert harmless.passed
    assert harmless.redelivered == 2
    assert doubled.applied_twice == 1
    assert "1 changes applied twice" in doubled.failures


def test_a_commit_through_haproxy_the_end_state_lacks_is_a_write_accepted_by_a_cut_off_node():
    base = selfcheck.clean_run()
    acks = [*base.probe_acks, ProbeAck("kept", "db1", T + 11), ProbeAck("lost", "db1", T + 12)]

    row = rows_by_fault(run_with(probe_acks=acks, probe_stored=base.probe_stored | {"kept"}))["Patroni kill -9"]

    assert row.cut_off_writes == 1
    assert row.failures == ["1 writes accepted by a cut-off node"]


def test_a_lost_commit_of_a_client_bypassing_haproxy_is_reported_but_not_judged():
    base = selfcheck.clean_run()
    acks = [*base.probe_acks, ProbeAck("direct-lost", "db1", T + 12, path="direct")]

    row = rows_by_fault(run_with(probe_acks=acks))["Patroni kill -9"]

    assert (row.direct_lost, row.cut_off_writes) == (1, 0)
    assert row.passed
    assert "1 acknowledged direct writes (no HAProxy) lost, reported only" in checker.table([row])


def test_a_periodic_slot_claimed_by_two_rows_ran_twice_while_one_row_seen_often_ran_once():
    claims = [PeriodicClaim(5, "sweep", "slot-a", 3, T + s) for s in (11, 12, 13)]
    again = [*claims, PeriodicClaim(9, "sweep", "slot-a", 4, T + 14)]

    once = rows_by_fault(run_with(periodic_claims=claims))["Patroni kill -9"]
    twice = rows_by_fault(run_with(periodic_claims=again))["Patroni kill -9"]

    assert once.periodic_twice == 0
    assert twice.periodic_twice == 1


def test_writes_back_later_than_the_managers_time_plus_the_grace_fail():
    base = selfcheck.clean_run()
    quick_manager = replace(base.windows[1], manager_seconds=5.0)

    row = rows_by_fault(run_with(windows=[base.windows[0], quick_manager]))["Patroni kill -9"]

    assert row.limit_seconds == 10.0
    assert row.failures == ["writes back after 11.0 s, limit 10.0 s"]


def test_gap_counts_from_the_injection_and_is_none_when_writes_never_came_back():
    assert gap_after(10.0, 30.0, [9.0, 10.5, 11.0, 16.0, 16.2]) == 5.0
    assert gap_after(10.0, 30.0, [2.0, 13.0]) == 3.0
    assert gap_after(10.0, 30.0, [9.9, 31.0]) == 21.0  # nothing inside: the first acknowledgement after it
    assert gap_after(10.0, 30.0, [9.9]) is None
    row = rows_by_fault(run_with(writes=[]))["Patroni kill -9"]
    assert "writes never came back" in row.failures


def test_the_text_table_has_a_header_one_line_per_fault_totals_and_the_verdict():
    rows = check(run_with(stored=set()))

    text = checker.table(rows)
    lines = text.splitlines()

    assert lines[0].split()[:3] == ["fault", "back", "s"]
    assert lines[2].startswith("steady load")
    assert lines[3].startswith("Patroni kill -9")
    assert lines[2].rstrip().endswith("FAIL")
    assert lines[3].rstrip().endswith("FAIL")
    assert lines[5].startswith("total: ")
    assert "FAIL Patroni kill -9: 21 acknowledged writes lost" in lines
    assert lines[-1] == "FAIL"


def test_the_json_report_holds_the_verdict_totals_facts_and_every_row():
    rows = check(selfcheck.clean_run())

    document = json.loads(checker.dumps(checker.report(rows, facts={"total_seconds": 1.0})))

    assert document["passed"] is True
    assert document["facts"] == {"total_seconds": 1.0}
    assert document["totals"]["lost"] == 0
    assert [f["fault"] for f in document["faults"]] == ["steady load", "Patroni kill -9"]
    assert {"gap_seconds", "manager_seconds", "limit_seconds", "cut_off_writes", "periodic_twice", "passed"} <= set(
        document["faults"][1]
    )


def test_a_run_without_faults_does_not_pass():
    assert checker.report([], facts={})["passed"] is False


def test_every_damage_the_self_check_plants_is_reported():
    assert selfcheck.problems() == []


def test_check_only_runs_the_fast_subset_and_exits_zero():
    result = subprocess.run(
        [sys.executable, "-m", "drill", "--check-only"], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "judged 10 recorded runs right" in result.stdout


def test_windows_are_attributed_by_injection_time_even_when_given_out_of_order():
    base = selfcheck.clean_run()
    later = Window("cable pull", T + 40, T + 60, 12.0)
    writes = [*base.writes, Write("api", "late", T + 45, T + 45.3, "prospect-late")]

    rows = check(run_with(windows=[later, *base.windows], writes=writes, stored=base.stored | {"prospect-late"}))

    assert [row.fault for row in rows] == ["steady load", "Patroni kill -9", "cable pull"]
    assert rows[2].api_acked == 1


def test_the_warm_up_counts_its_writes_and_errors_but_its_slowness_is_not_judged():
    base = selfcheck.clean_run()
    warm_up = Window("warm-up", T - 60, T, None, "cold app nodes", timed=False)
    slow_first = Write("intake", "cold", T - 59, T - 20, "lead-cold", errors=80)  # answered after 39 s
    observations = run_with(
        windows=[warm_up, *base.windows], writes=[*base.writes, slow_first], stored=base.stored | {"lead-cold"}
    )

    rows = rows_by_fault(observations)

    assert next(iter(rows)) == "warm-up"
    assert rows["warm-up"].client_errors == 80
    assert (rows["warm-up"].intake_acked, rows["warm-up"].intake_stored) == (1, 1)
    assert rows["warm-up"].passed
    assert rows["steady load"].client_errors == 0


def test_a_write_lost_during_the_warm_up_still_fails_it():
    base = selfcheck.clean_run()
    warm_up = Window("warm-up", T - 60, T, None, "cold app nodes", timed=False)
    lost = Write("intake", "cold", T - 59, T - 20, "lead-cold", errors=0)

    rows = rows_by_fault(run_with(windows=[warm_up, *base.windows], writes=[*base.writes, lost]))

    assert rows["warm-up"].failures == ["1 acknowledged writes lost"]


def test_the_database_gap_is_measured_from_the_witness_through_haproxy_only():
    base = selfcheck.clean_run()
    witness = [ProbeAck(f"w{i}", "db2", T + 10 + 3 * i) for i in range(1, 5)]  # back 3 s after the injection
    direct = [ProbeAck("d1", "db1", T + 10.5, "direct")]  # a direct client's ack says nothing of HAProxy's path
    observations = run_with(
        probe_acks=[*base.probe_acks, *witness, *direct],
        probe_stored={"w1", "w2", "w3", "w4", "d1"} | base.probe_stored,
    )

    row = rows_by_fault(observations)["Patroni kill -9"]

    assert row.database_gap_seconds == 3.0
