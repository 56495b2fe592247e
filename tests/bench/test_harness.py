"""The bench harness: BENCH lines, verdicts, wrk's figures, results file and exit code."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from bench import harness
from bench.harness import BenchContext, Result, WrkStats
from tests.support.app_role import owner_url


def _ctx(smoke: bool) -> BenchContext:
    return BenchContext(database_url="", redis_url="", smoke=smoke, base_url="", largest_dealer_id=1, api_key_for=str)


def test_line_has_the_contracted_shape() -> None:
    result = Result("api_prospect_list", 242.0, 361.0, "ratio>=0.75", False, "req/s")
    assert result.line() == "BENCH api_prospect_list value=242.0 baseline=361.0 ratio=0.67 target=ratio>=0.75 FAIL"
    assert Result("x", 12.5, 10.0, "p99<20ms", True).line().endswith("ratio=1.25 target=p99<20ms PASS")


def test_full_runs_hold_the_target_and_smoke_runs_only_gross_regressions() -> None:
    assert harness.at_least(_ctx(smoke=False), 0.70, 0.75, 0.40) == (False, "ratio>=0.75")
    assert harness.at_least(_ctx(smoke=True), 0.70, 0.75, 0.40) == (True, "ratio>=0.4(smoke)")
    assert harness.at_least(_ctx(smoke=True), 0.30, 0.75, 0.40)[0] is False
    assert harness.at_most(_ctx(smoke=False), 1.3, 1.2, 5.0) == (False, "ratio<=1.2")
    assert harness.at_most(_ctx(smoke=True), 1.3, 1.2, 5.0) == (True, "ratio<=5(smoke)")


def test_a_baseline_with_no_finished_request_never_passes() -> None:
    assert harness.ratio(5.0, 0.0) == float("inf")
    assert harness.at_most(_ctx(smoke=True), harness.ratio(5.0, 0.0), 1.2, 5.0)[0] is False
    assert harness.at_least(_ctx(smoke=True), harness.ratio(5.0, 0.0), 0.75, 0.4)[0] is False


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

    def do_GET(self) -> None:
        status = 500 if self.path.startswith("/fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Any:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_wrk_reports_rate_latencies_and_errors(server: str) -> None:
    good = harness.run_wrk(server + "/", seconds=1, connections=2)
    assert good.requests > 10
    assert good.errors == 0
    assert good.requests_per_s > 10
    assert 0 < good.p50_ms <= good.p99_ms
    bad = harness.run_wrk(server + "/fail", seconds=1, connections=2)
    assert bad.requests > 0
    assert bad.errors == bad.requests


def test_results_file_and_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    outcomes = [Result("good", 2.0, 1.0, "ratio>=1", True), Result("bad", 1.0, 2.0, "ratio>=1", False)]

    class Module:
        @staticmethod
        def run(ctx: BenchContext) -> list[Result]:
            return outcomes

    ctx = _ctx(smoke=True)
    lines: list[str] = []
    monkeypatch.setattr(harness.importlib, "import_module", lambda name: Module)
    results = harness.run_suites(ctx, ["fake"], echo=lines.append)
    assert [line for line in lines if line.startswith("BENCH")] == [r.line() for r in outcomes]
    document = harness.write_results(ctx, results, 1.0, tmp_path / "latest.json")
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved == json.loads(json.dumps(document))
    assert saved["passed"] is False
    assert [r["name"] for r in saved["results"]] == ["good", "bad"]
    assert saved["machine"]["cores"] >= 1


def test_a_suite_that_raises_is_a_failed_result_and_the_rest_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @staticmethod
        def run(ctx: BenchContext) -> list[Result]:
            raise RuntimeError("boom")

    monkeypatch.setattr(harness.importlib, "import_module", lambda name: Broken)
    settled: list[str] = []

    def settle(url: str) -> list[str]:
        settled.append(url)
        return []

    results = harness.run_suites(_ctx(smoke=True), ["one", "two"], echo=lambda line: None, settle=settle)
    assert [(r.name, r.passed) for r in results] == [("one", False), ("two", False)]
    assert "boom" in results[0].extra["error"]
    assert settled == [""]  # between the two suites, not after the last


@pytest.mark.django_db(transaction=True)
def test_settling_vacuums_and_analyses_the_tables_a_suite_left_dead_rows_in_and_only_those() -> None:
    url = owner_url(connection.settings_dict)
    rows = harness.SETTLE_ROWS * 2
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_settle_probe")
        conn.execute("CREATE TABLE bench_settle_probe (id integer)")
        conn.execute("INSERT INTO bench_settle_probe SELECT generate_series(1, %s)", [rows])
        conn.execute("DELETE FROM bench_settle_probe")
    try:
        # another session's temporary table (the bulk writes' staging) is that session's: VACUUM skips it
        with psycopg.connect(url, autocommit=True) as session:
            session.execute("CREATE TEMPORARY TABLE bench_settle_staging (id integer)")
            session.execute("INSERT INTO bench_settle_staging SELECT generate_series(1, %s)", [rows])
            session.execute("DELETE FROM bench_settle_staging")
            session.execute("SELECT pg_stat_force_next_flush()")  # flushed as the session goes idle
            settled = harness.settle_database(url)
        assert "public.bench_settle_probe" in settled
        assert not [name for name in settled if name.startswith("pg_temp")]
        with psycopg.connect(url) as conn:
            dead, vacuumed, analysed = conn.execute(
                "SELECT n_dead_tup, last_vacuum, last_analyze FROM pg_stat_user_tables "
                "WHERE relname = 'bench_settle_probe'"
            ).fetchone()
        assert dead == 0
        assert vacuumed is not None
        assert analysed is not None
        assert "public.bench_settle_probe" not in harness.settle_database(url)  # nothing left to settle
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE bench_settle_probe")


def test_wrk_stats_from_a_script_with_its_own_request_function(server: str) -> None:
    lua = 'request = function() return wrk.format("GET", "/fail") end'
    stats: WrkStats = harness.run_wrk(server + "/", seconds=1, connections=1, lua=lua)
    assert stats.requests > 0
    assert stats.errors == stats.requests


def test_a_partial_run_updates_the_results_of_its_size_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "rows-1000.json"
    first = {
        "rows": 1000,
        "results": [{"name": "a", "value": 1, "passed": True}, {"name": "b", "value": 2, "passed": True}],
    }
    harness.save_by_size(first, path)
    harness.save_by_size({"rows": 1000, "results": [{"name": "b", "value": 3, "passed": False}]}, path)
    saved = json.loads(path.read_text())
    assert [(r["name"], r["value"]) for r in saved["results"]] == [("a", 1), ("b", 3)]
    assert saved["passed"] is False


def test_a_target_with_several_conditions_stays_one_field_of_the_line() -> None:
    line = Result("deep_page_api", 1, 1, "ratio<=2,no-unfiltered-COUNT", True).line()
    assert line.split()[-2] == "target=ratio<=2,no-unfiltered-COUNT"


def test_the_reference_p99_is_the_saved_larger_run_only_when_this_run_is_larger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    ctx = BenchContext(database_url="", redis_url="", smoke=False, base_url="", largest_dealer_id=1, api_key_for=str)
    bigger = dataclasses.replace(ctx, rows=2_000)
    assert harness.reference_p99(bigger, 1_000) == {}  # no saved run
    results = [{"name": "search_no_match", "extra": {"p99_ms": 4.5}}, {"name": "api_ratio", "extra": {}}]
    (tmp_path / "rows-1000.json").write_text(json.dumps({"results": results}))
    assert harness.reference_p99(bigger, 1_000) == {"search_no_match": 4.5}
    assert harness.reference_p99(ctx, 1_000) == {}  # this run is not larger: measured in the run instead


def test_the_smoke_database_is_named_after_the_one_of_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    assert harness.smoke_database() == "crm_bench_smoke"  # make's database
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_h3?sslmode=disable")
    assert harness.smoke_database() == "crm_h3_bench_smoke"


def test_a_paced_script_holds_its_rate_whatever_the_connections(server: str) -> None:
    stats = harness.run_wrk(server + "/", seconds=2, connections=4, lua=harness.paced(20))
    assert 30 <= stats.requests <= 50  # 20/s for 2 s, not 4 connections as fast as they go
    assert stats.errors == 0
