"""The `radqa` command: ingest, demo, report, export, serve.

Library code raises RadQAError subclasses; this module turns them into a message on stderr and an
exit code (0 fine, 1 something was quarantined or refused, 2 bad usage or configuration, nothing
done; 3 an ingest committed batches, then stopped on an error: its lines say which, and whether
the snapshot is behind; 130 Ctrl-C, with the lines of the batches already committed). An ingest
prints what it loaded on stdout and the lines of the files it refused on stderr: a cron job that
mails stderr sees them, and a script that reads stdout gets the summary only.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import select
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from radqa import __version__
from radqa.errors import ConfigError, RadQAError, StoreError, first_line
from radqa.settings import resolve_data_dir

if TYPE_CHECKING:
    from ingest.dicom import DicomSummary


def _data_dir_option() -> argparse.ArgumentParser:
    """--data-dir, accepted after the subcommand too (``radqa ingest reads F --data-dir D``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="folder with the database, the snapshot and the pseudonymisation key (default: "
        "$RADQA_DATA_DIR or ./data); also accepted before the command",
    )
    return common


def _port(text: str) -> int:
    """A TCP port number, 1-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number; expected 1-65535"
        ) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range; expected a port 1-65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radqa", description="Clinical validation and drift monitoring of radiology AI."
    )
    parser.add_argument("--version", action="version", version=f"radqa {__version__}")
    parser.add_argument(
        "--data-dir",
        help="folder with the database, the snapshot and the pseudonymisation key "
        "(default: $RADQA_DATA_DIR or ./data)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _data_dir_option()

    ingest = sub.add_parser("ingest", help="load predictions, reads or DICOM headers")
    ingest_sub = ingest.add_subparsers(
        dest="kind", required=True, metavar="{predictions,reads,dicom}"
    )
    for kind in ("predictions", "reads"):
        p = ingest_sub.add_parser(
            kind, help=f"load {kind} files (CSV, Parquet, JSON Lines)", parents=[common]
        )
        p.add_argument("files", nargs="+", help="files or glob patterns")
        p.add_argument(
            "--strict", action="store_true", help="refuse a whole file if any row is bad"
        )
        p.add_argument(
            "--encoding",
            default=None,
            metavar="NAME",
            help="text encoding of CSV and JSON Lines files, e.g. cp932 (Japanese Windows) or "
            "cp949 (Korean Windows); default UTF-8, or UTF-16 with its byte-order mark",
        )
    dicom = ingest_sub.add_parser(
        "dicom", help="read DICOM headers into the studies table", parents=[common]
    )
    dicom.add_argument(
        "paths", nargs="+", help="DICOM files, folders (walked recursively) or ZIP archives"
    )
    dicom.add_argument(
        "--encoding",
        default=None,
        metavar="NAME",
        help="character set of headers that declare none (no Specific Character Set) and whose "
        "text is not UTF-8, e.g. cp932 (Japanese Shift-JIS) or cp949 (Korean EUC-KR); a "
        "declared character set is always used; default: such text is read as Latin-1 and "
        "the summary says so",
    )

    demo = sub.add_parser("demo", help="generate the demo data set and load it", parents=[common])
    demo.add_argument(
        "--studies",
        type=int,
        default=200_000,
        help="studies over the 24 demo months (default 200,000)",
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="random seed: the same seed gives the same data"
    )
    demo.add_argument(
        "--replace",
        action="store_true",
        help="delete the data dir's databases, snapshot, cases file and cache first "
        "(pseudo.key and radqa.toml are kept); without it a data dir with other data is refused",
    )

    report = sub.add_parser("report", help="write reports")
    report_sub = report.add_subparsers(dest="report", required=True, metavar="{monthly}")
    monthly = report_sub.add_parser(
        "monthly", help="the monthly drift report (HTML, PDF, JSON)", parents=[common]
    )
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.add_argument("--out", default=None, help="output folder (default: DATA_DIR/reports)")

    export = sub.add_parser("export", help="export statistics")
    export_sub = export.add_subparsers(dest="export", required=True, metavar="{trial}")
    trial = export_sub.add_parser(
        "trial", help="trial statistics (XLSX, CSV, JSON)", parents=[common]
    )
    trial.add_argument(
        "--design",
        default="auto",
        choices=["auto", "parallel", "paired", "mrmc"],
        help="parallel arms, paired reads of the same cases, or multi-reader multi-case "
        "(Obuchowski-Rockette); auto picks from the reads (default)",
    )
    trial.add_argument(
        "--arm-column",
        default="arm",
        metavar="NAME",
        help="the reads column that names each read's arm (default: arm)",
    )
    trial.add_argument(
        "--endpoint",
        default="accuracy",
        choices=["missed_findings", "accuracy"],
        help="the primary endpoint (default: accuracy)",
    )
    trial.add_argument(
        "--from", dest="date_from", default=None, metavar="YYYY-MM-DD", help="first study date"
    )
    trial.add_argument(
        "--to", dest="date_to", default=None, metavar="YYYY-MM-DD", help="last study date"
    )
    trial.add_argument("--out", default=None, help="output folder (default: DATA_DIR/exports)")
    trial.add_argument(
        "--format",
        default="xlsx,csv,json",
        help="comma-separated formats to write (default: xlsx,csv,json)",
    )

    rules = sub.add_parser(
        "rules",
        help="check the alert rules, print them, or write the defaults to edit",
        description="Without options: check the alert rules that apply to the data dir "
        "(DATA_DIR/alert_rules.toml, else the built-in defaults) and list them; exit 2 with the "
        "file, rule and key when one is wrong. The monthly report and the dashboard use these.",
        parents=[common],
    )
    what = rules.add_mutually_exclusive_group()
    what.add_argument(
        "--print-defaults",
        action="store_true",
        help="print the built-in default rules, with the documentation of every key",
    )
    what.add_argument(
        "--write",
        action="store_true",
        help="save the built-in defaults as DATA_DIR/alert_rules.toml to edit (an existing file "
        "is never overwritten)",
    )

    sub.add_parser(
        "publish",
        help="migrate the working database to this version's schema and publish it",
        parents=[common],
    )

    serve = sub.add_parser("serve", help="start the dashboard", parents=[common])
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other needs login configured)",
    )
    serve.add_argument("--port", type=_port, default=8501, help="TCP port (default 8501)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.data_dir == "":
        print("radqa: error: --data-dir is empty; expected a folder", file=sys.stderr)
        return 2
    data_dir = resolve_data_dir(args.data_dir)
    try:
        if data_dir.exists() and not data_dir.is_dir():
            raise ConfigError(f"the data dir {data_dir} is a file; expected a folder")
        return _dispatch(args, data_dir)
    except RadQAError as exc:
        print(f"radqa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:  # DuckDB's answer to Ctrl-C in the middle of a query
        if "interrupted" not in str(exc).lower():
            raise
        return 130
    except (duckdb.IOException, duckdb.OutOfMemoryException) as exc:  # a full disk, memory
        print(f"radqa: error: {first_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # another pipe broke (to a child process, say): a real error
        # whatever read the output (`| head`) has gone; the work itself is done and committed.
        # Point stdout at /dev/null so that Python's flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a read-only disk, a folder we may not write, a file in the way
        print(f"radqa: error: {_os_error(exc, data_dir)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: not exit 1, which says "done, rows quarantined"
        print(_internal_error(exc), file=sys.stderr)
        return 4


def _internal_error(exc: Exception) -> str:
    """A bug in words, for exit code 4: the exception's type and where it was raised, not its
    text (which may quote a value of the data); the traceback when RADQA_DEBUG is set."""
    if os.environ.get("RADQA_DEBUG"):
        return "".join(traceback.format_exception(exc)).rstrip()
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    where = ""
    if ours:
        path = Path(ours[-1].filename)
        shown = "/".join(path.parts[-2:])
        where = f" at {shown}:{ours[-1].lineno}"
    return (
        f"radqa: internal error: {type(exc).__name__}{where} (a bug in RadQA, not in your data). "
        "The working database holds only the batches committed before it; a batch in progress "
        "was not stored. Run again with RADQA_DEBUG=1 for the traceback, and report it"
    )


def _os_error(exc: OSError, data_dir: Path) -> str:
    """An operating-system error in words, with the path it concerns (no traceback)."""
    where = f" {exc.filename}" if exc.filename else ""
    said = f"{exc.strerror or exc}:{where}"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write to the data dir {data_dir} ({said}); check the folder's permissions"
    return said


def _rules(args: argparse.Namespace, data_dir: Path) -> int:
    """`radqa rules`: check and list the rules in use, print the defaults, or write them."""
    from metrics._rules import (
        DEFAULT_RULES_TOML,
        RULES_FILE,
        data_dir_reference,
        data_dir_rules,
        ensure_rules_file,
    )

    if args.print_defaults:
        print(DEFAULT_RULES_TOML, end="")
        return 0
    path = data_dir / RULES_FILE
    if args.write:
        if path.exists():
            raise ConfigError(
                f"{path} is already there; edit it (an existing file is never overwritten)"
            )
        print(f"wrote {ensure_rules_file(data_dir)}: the built-in defaults, to edit")
        return 0
    rules, source = data_dir_rules(data_dir)  # ConfigError: the file, rule and key
    print(f"{len(rules)} alert rule(s), all valid, from {path if path.exists() else source}:")
    for rule in rules:
        print(f"  {rule.name}: {rule.method} of {rule.metric} by {', '.join(rule.group_by)}")
    window, how = data_dir_reference(data_dir)
    months = f"{window.first}..{window.last}, " if window.first else ""
    print(f"reference window: {months}{how}")
    return 0


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error on it)."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll, or no file behind stdout
        return False


def _dispatch(args: argparse.Namespace, data_dir: Path) -> int:
    if args.command == "ingest":
        if args.kind == "dicom":
            from ingest.dicom import ingest_dicom

            summary = ingest_dicom(
                data_dir, args.paths, workers=os.cpu_count() or 1, encoding=args.encoding
            )
            loaded, refused = render_dicom(summary)
            _print_refused(refused)
            print(loaded)
            if summary.snapshot_id:
                _warm(data_dir)
            return 0 if summary.ok else 1
        from ingest.load import IngestInterrupted, PartlyLoaded, ingest_files

        try:
            results = ingest_files(
                data_dir, args.kind, args.files, strict=args.strict, encoding=args.encoding
            )
        except (PartlyLoaded, IngestInterrupted) as stopped:
            # batches committed before it stopped: their lines on stdout, then what stopped it
            loaded, refused = render_results(stopped.results)
            _print_refused(refused)
            print(loaded, flush=True)
            if isinstance(stopped, IngestInterrupted):
                print(f"radqa: {stopped}", file=sys.stderr)
                return 130
            print(f"radqa: error: {stopped}", file=sys.stderr)
            return 3
        loaded, refused = render_results(results)
        _print_refused(refused)
        print(loaded)
        if args.kind == "predictions":
            for line in _operating_point_warnings(data_dir):  # for cron's mail, not the summary
                print(line, file=sys.stderr)
        if any(r.snapshot_id for r in results):
            _warm(data_dir)
        return 0 if all(r.ok for r in results) else 1
    if args.command == "demo":
        from radqa.demo import run_demo

        run_demo(data_dir, studies=args.studies, seed=args.seed, replace=args.replace)
        print(_describe_snapshot(data_dir))
        _warm(data_dir)
        return 0
    if args.command == "report":
        from radqa.settings import load_settings
        from reports.monthly import write_monthly_report

        # the report does not use radqa.toml, but a broken one stops the next ingest: a monthly
        # timer is where an admin hears of it soonest (ConfigError, exit 2)
        load_settings(data_dir)
        out = _out_folder(args.out) or data_dir / "reports"
        paths = write_monthly_report(data_dir, args.month, out)
        for path in paths:
            print(path)
        return 0
    if args.command == "export":
        from reports.trial import export_trial

        out = _out_folder(args.out) or data_dir / "exports"
        written = export_trial(
            data_dir,
            out,
            design=args.design,
            arm_column=args.arm_column,
            endpoint=args.endpoint,
            date_from=args.date_from,
            date_to=args.date_to,
            formats=tuple(f.strip() for f in args.format.split(",") if f.strip()),
        )
        for path in written:
            print(path)
        return 0
    if args.command == "rules":
        return _rules(args, data_dir)
    if args.command == "publish":
        _publish(data_dir)
        return 0
    if args.command == "serve":
        from radqa import store
        from radqa.serve import serve

        old = store.outdated_snapshot(data_dir)
        if old is not None:
            print(
                f"the published snapshot has schema version {old}; migrating the working "
                f"database to version {store.SCHEMA_VERSION} and publishing it again",
                flush=True,
            )
            _publish(data_dir)
        return serve(data_dir, host=args.host, port=args.port)
    raise AssertionError(args.command)


def _out_folder(out: str | None) -> Path | None:
    """``--out`` as a folder, checked before any work: a file there would fail only after the
    whole report or export was computed."""
    if not out:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a folder")
    return path


def _publish(data_dir: Path) -> None:
    """Migrate the working database, publish it, build the cases table and warm the cache."""
    from radqa import derived, store

    if not store.working_path(data_dir).is_file():
        # publishing an empty working database would replace a snapshot with an empty one
        raise StoreError(
            f"no working database in {data_dir} ({store.WORKING_NAME}): nothing to publish. "
            "Check --data-dir; `radqa ingest` makes it."
        )
    con = store.connect_working(data_dir)
    try:
        info = store.publish_snapshot(con, data_dir)
        derived.build_cases(data_dir, writer=con)
    finally:
        con.close()
    print(f"published snapshot {info.snapshot_id} to {info.path}")
    _warm(data_dir)


def _warm(data_dir: Path) -> None:
    """Compute the dashboard's landing view for the new snapshot (see dashboard/warmup.py).

    The data is already committed and published: a failure here only means the first page
    computes its statistics itself, so it is reported, not raised.
    """
    import time

    import duckdb

    from dashboard.warmup import warm
    from radqa.errors import RadQAError

    started = time.perf_counter()
    try:
        calls = warm(data_dir)
    except (RadQAError, duckdb.Error) as exc:
        print(f"dashboard landing view not precomputed: {exc}", file=sys.stderr)
        return
    if calls:
        print(f"dashboard landing view computed ({time.perf_counter() - started:.1f} s)")


def _operating_point_warnings(data_dir: Path) -> list[str]:
    """A warning for each operating point of radqa.toml that matches no model_name/finding of
    the predictions stored (:func:`radqa.settings.unmatched_operating_points`); none while the
    snapshot holds no prediction."""
    from radqa import store
    from radqa.settings import load_settings, unmatched_operating_points

    settings = load_settings(data_dir)
    if not settings.operating_points or not store.snapshot_path(data_dir).exists():
        return []
    con = store.open_snapshot(data_dir)
    try:
        pairs = con.execute("select distinct model_name, finding from predictions").fetchall()
    finally:
        con.close()
    return unmatched_operating_points(settings, pairs) if pairs else []


def _describe_snapshot(data_dir: Path) -> str:
    """One line saying what the published snapshot holds."""
    from radqa import store

    con = store.open_snapshot(data_dir)
    try:
        counts = {
            t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
            for t in ("studies", "predictions", "reads", "quarantine")
        }
        info = store.snapshot_info(con)
    finally:
        con.close()
    sid = info.snapshot_id if info else "?"
    return (
        f"snapshot {sid} in {data_dir}: {counts['studies']:,} studies, "
        f"{counts['predictions']:,} predictions, {counts['reads']:,} reads, "
        f"{counts['quarantine']:,} rows in quarantine"
    )


def _print_refused(lines: str) -> None:
    """The lines of files an ingest refused, on stderr (flushed before the summary on stdout)."""
    if lines:
        print(lines, file=sys.stderr, flush=True)


def render_results(results: Sequence[object]) -> tuple[str, str]:
    """The ingest summary: a line per file, the first reasons, and the totals, as (stdout,
    stderr): the lines of a file refused whole, or by --strict, are stderr's; the others and
    the totals stdout's."""
    out: list[str] = []
    err: list[str] = []
    totals = dict.fromkeys(("accepted", "inserted", "replaced", "unchanged", "quarantined"), 0)
    refused = 0
    for r in results:
        lines = err if r.status == "refused" else out  # type: ignore[attr-defined]
        lines.append(f"{r.status:>9}  {r.message}")  # type: ignore[attr-defined]
        for reason in r.reasons:  # type: ignore[attr-defined]
            lines.append(f"           {reason}")
        if r.quarantined > len(r.reasons):  # type: ignore[attr-defined]
            lines.append(
                f"           ... and {r.quarantined - len(r.reasons)} more rows in quarantine"  # type: ignore[attr-defined]
            )
        refused += r.status == "refused"  # type: ignore[attr-defined]
        for k in totals:
            totals[k] += getattr(r, k)
    out.append(
        f"total: {len(results)} file(s), {totals['accepted']} rows accepted "
        f"({totals['inserted']} new, {totals['replaced']} replaced, "
        f"{totals['unchanged']} unchanged), {totals['quarantined']} quarantined, "
        f"{refused} file(s) refused"
    )
    return "\n".join(out), "\n".join(err)


def render_dicom(summary: DicomSummary) -> tuple[str, str]:
    """``radqa ingest dicom``'s summary as (stdout, stderr): the files skipped and the folders
    not read, with their reasons, are stderr's; the rest of :meth:`DicomSummary.render` (which
    counts them) stdout's."""
    out = dataclasses.replace(summary, skipped=[], folders=[]).render()
    return out, "\n".join(summary.problem_lines())


if __name__ == "__main__":
    sys.exit(main())
