"""``data-platform summary``: rows per stage, the latest checks, where the data is."""

from __future__ import annotations

import argparse
import os
import sys

import duckdb

from data_platform.resources import landing_root, warehouse_path


def cmd_summary(args: argparse.Namespace) -> int:
    """Print rows per stage, the latest run's checks, and where things are."""
    path = warehouse_path()
    if not path.exists():
        print(f"no warehouse at {path} yet: run `make demo` first", file=sys.stderr)
        return 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        print(f"warehouse: {path}")
        for line in _stage_counts(con):
            print(f"  {line}")
    finally:
        con.close()
    checks = _latest_run_checks()
    if checks:
        from data_platform.launch import check_line

        failed = [c for c in checks if not c.passed]
        print(f"checks (latest evaluation per day in the recent runs): {len(checks) - len(failed)} passed, "
              f"{len(failed)} did not (FAILED: severity ERROR, WARN: severity WARN)")
        for evaluation in checks:
            if not evaluation.passed:
                print(f"  {check_line(evaluation)}")
    print(f"landing folder: {landing_root()}")
    print("open the UI: make ui   (then http://127.0.0.1:3000, asset groups by lifecycle stage)")
    return 0


def _stage_counts(con: duckdb.DuckDBPyConnection) -> list[str]:
    from data_platform.resources import rows

    tables = {
        (s, t) for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
        ).fetchall()
    }
    lines = []
    if ("raw", "files") in tables:
        files, lines_read, accepted, quarantined = con.execute(
            "SELECT count(*), sum(lines), sum(accepted), sum(quarantined) FROM raw.files WHERE status = 'current'"
        ).fetchone()
        lines.append(f"raw.files        {files:>10,} files, {lines_read or 0:,} lines read")
        events = con.execute("SELECT count(*) FROM raw.events").fetchone()[0]
        quarantine = con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
        lines.append(f"raw.events       {events:>10,} rows ({accepted or 0:,} accepted lines landed)")
        lines.append(f"raw.quarantine   {quarantine:>10,} rows ({quarantined or 0:,} quarantined lines landed)")
        reasons = con.execute(
            "SELECT reason, count(*) FROM raw.quarantine GROUP BY reason ORDER BY 2 DESC, 1"
        ).fetchall()
        lines.append("  quarantine reasons: " + ", ".join(f"{r} {n}" for r, n in reasons))
        balanced = (events + quarantine) == (lines_read or 0)
        lines.append(
            f"accounting: lines read {lines_read or 0:,} = accepted {events:,} + quarantined {quarantine:,}"
            + ("  (balances)" if balanced else "  (DOES NOT BALANCE: some days are not materialized yet)")
        )
    if ("clean", "events") in tables:
        kept, filtered, dups, persons, fixed = con.execute(
            "SELECT (SELECT count(*) FROM clean.events), (SELECT count(*) FROM clean.filtered_events), "
            "(SELECT count(*) FROM clean.duplicates), (SELECT count(DISTINCT person_key) FROM clean.events), "
            "(SELECT count(*) FROM clean.events WHERE price_fix IS NOT NULL)"
        ).fetchone()
        lines.append(f"clean.events     {kept:>10,} rows, {persons:,} persons, {fixed:,} prices corrected")
        lines.append(f"  removed: {dups:,} duplicate deliveries, {filtered:,} by spam/bot rules")
        by_rule = con.execute(
            "SELECT rule_id || '@' || rule_version, count(*) FROM clean.filtered_events GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        lines.append("  rules: " + (", ".join(f"{r} {n}" for r, n in by_rule) or "none fired"))
    if ("labels", "ctr_examples") in tables:
        n, pos, provisional = con.execute(
            "SELECT count(*), sum(label), count(*) FILTER (WHERE label_status = 'provisional') FROM labels.ctr_examples"
        ).fetchone()
        aside = con.execute("SELECT reason, count(*) FROM labels.unattributed_clicks GROUP BY 1 ORDER BY 2 DESC").fetchall()
        lines.append(f"labels.ctr_examples {n:>7,} impressions, {pos or 0:,} clicked (CTR {(pos or 0) / max(n, 1):.4f}), "
                     f"{provisional:,} provisional")
        lines.append("  clicks kept aside: " + (", ".join(f"{r} {c}" for r, c in aside) or "none"))
    if ("labels", "review_examples") in tables:
        by_source = con.execute(
            "SELECT label_source, count(*) FROM labels.review_examples GROUP BY 1 ORDER BY 2 DESC").fetchall()
        total = sum(c for _, c in by_source)
        lines.append(f"labels.review_examples {total:>4,} reviews: " + ", ".join(f"{s} {c}" for s, c in by_source))
        weak_acc, weak_n, human_acc, human_n = con.execute(
            "SELECT avg((w.label = g.label)::INT), count(*) FILTER (WHERE w.label IS NOT NULL), "
            "(SELECT avg((h.label = g2.label)::INT) FROM labels.human_consensus h JOIN labels.gold g2 USING (review_id)), "
            "(SELECT count(*) FROM labels.human_consensus h JOIN labels.gold g2 USING (review_id)) "
            "FROM labels.gold g LEFT JOIN labels.weak_labels w USING (review_id)").fetchone()
        lines.append("  accuracy on gold: " + ", ".join(
            f"{who} {acc:.3f} ({n} items)" if n else f"{who}: no gold items"
            for who, acc, n in (("label model", weak_acc, weak_n), ("human consensus", human_acc, human_n))))
        batches = con.execute("SELECT batch_id, count(*), string_agg(DISTINCT selection, ',' ORDER BY selection) "
                              "FROM labels.tasks GROUP BY 1 ORDER BY 1").fetchall()
        lines.append("  task batches: " + ", ".join(f"{b} ({n} tasks: {s})" for b, n, s in batches))
    if ("splits", "exports") in tables:
        for dataset, version, path, examples in con.execute(
                "SELECT dataset, version, path, examples FROM splits.exports "
                "QUALIFY row_number() OVER (PARTITION BY dataset ORDER BY created_at DESC) = 1 ORDER BY 1").fetchall():
            from data_platform.splits.split import DATASETS

            shares = ", ".join(f"{r['split']} {r['examples']:,}" for r in rows(
                con, "splits/count_by_split.sql", table=f"splits.{DATASETS[dataset].name}"))
            lines.append(f"exports/{dataset}: version {version}, {examples:,} examples ({shares}) -> {path}")
    if ("provenance", "invalidations") in tables:
        for inv_id, kind, value, status, reason in con.execute(
                "SELECT invalidation_id, kind, value, status, reason FROM provenance.invalidations ORDER BY 1").fetchall():
            moved = con.execute("SELECT string_agg(table_name || ' ' || rows_before || '->' || rows_after, ', ' "
                                "ORDER BY table_name) FROM provenance.invalidation_audit WHERE invalidation_id = ? "
                                "AND rows_before <> rows_after", [inv_id]).fetchone()[0]
            lines.append(f"provenance: invalidation {inv_id} {kind} {value} ({status}): {reason}")
            lines.append(f"  rows tracing to it: {moved or 'unchanged'}")
    if ("monitoring", "retraining_signal") in tables:
        import json

        for day, dataset, refresh, reasons in con.execute(
                "SELECT day, dataset, refresh, reasons FROM monitoring.retraining_signal "
                "WHERE version IS NOT NULL ORDER BY day, dataset").fetchall():
            kinds = ", ".join(r["reason"] for r in json.loads(reasons))
            lines.append(f"retraining signal {day} {dataset}: " + (f"REFRESH ({kinds})" if refresh else "no refresh"))
    if ("monitoring", "anomalies") in tables:
        stats_rows, stats_days = con.execute(
            "SELECT count(*), count(DISTINCT partition_date) FROM monitoring.feature_stats").fetchone()
        lines.append(f"monitoring.feature_stats {stats_rows:>5,} feature profiles over {stats_days} days")
        by_day = con.execute("""
            SELECT day, count(*) FILTER (WHERE severity = 'ERROR'), count(*) FILTER (WHERE severity = 'WARN'),
                   string_agg(DISTINCT kind || ' ' || table_name || '.' || feature, ', ' ORDER BY kind || ' ' || table_name || '.' || feature)
                       FILTER (WHERE severity = 'ERROR')
            FROM monitoring.anomalies GROUP BY day ORDER BY day""").fetchall()
        for day, errors, warnings, what in by_day:
            shown = (what or "")[:150] + ("..." if what and len(what) > 150 else "")
            lines.append(f"  {day}: {errors} ERROR, {warnings} WARN" + (f"  ({shown})" if errors else ""))
    return lines


def _latest_run_checks(runs: int = 10) -> list:
    """The latest evaluation of every check and partition in the last ``runs`` runs (sorted by asset,
    check and partition)."""
    if not os.environ.get("DAGSTER_HOME"):
        return []
    import dagster as dg
    from dagster._core.events import DagsterEventType

    latest: dict[tuple[str, str, str], object] = {}
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs(limit=runs)):  # oldest first: later evaluations win
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data
                latest[evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.partition or ""] = evaluation
    return [latest[k] for k in sorted(latest)]
