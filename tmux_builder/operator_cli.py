"""The operator's commands: see every session, reach its pane, read a build's steps, tear a user
down, redeploy. All through the same authenticated REST API the portal uses, with the admin
credential (``TMUX_BUILDER_ADMIN_TOKEN``, or the local stack's token file).

- ``sessions``: who is where: each session's user, state, the agent host holding its lease,
  and its last activity;
- ``attach <user>``: attach read-only to the user's tmux pane on the host that holds it (the
  embedded stack's agents are local; for a remote host it prints how to get there);
- ``logs <execution>``: the step history with errors, like the Step Functions console;
- ``teardown <user>``: remove every site, the cloud identity and the tmux session (asks first);
- ``redeploy <execution>``: start a redeploy of that build's site.

Exit codes: 0 done; 1 the operation failed (the API could not finish it); 2 the API refused it
(unknown user or build, bad argument: the message says which); 3 no API reachable; 4 not
confirmed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from tmux_builder.api_client import (
    ApiClient,
    ApiFailure,
    ApiUnavailable,
    discover_admin_token,
    discover_api_url,
    read_stack,
)

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_NO_API, EXIT_NOT_CONFIRMED = 0, 1, 2, 3, 4
_PAGE = 100
_MIN_PREFIX = 6


class OperatorError(Exception):
    """A clear message and the exit code it ends with."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


class OperatorApi(ApiClient):
    """The admin routes the operator commands use."""

    def sessions(self, status_filter: str = "all") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {
                "filter": status_filter,
                "limit": _PAGE,
                **({"cursor": cursor} if cursor else {}),
            }
            page = self._call("GET", f"/api/admin/sessions?{urlencode(query)}")
            found.extend(page["sessions"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def session(self, session_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/admin/sessions/{session_id}")

    def leases(self) -> dict[str, Any]:
        return self._call("GET", "/api/admin/leases")

    def history(self, execution_id: str) -> dict[str, Any]:
        states: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = urlencode({"limit": 200, **({"cursor": cursor} if cursor else {})})
            page = self._call("GET", f"/api/admin/executions/{execution_id}/history?{query}")
            states.extend(page.get("states", []))
            cursor = page.get("next_cursor")
            if not cursor:
                return {**page, "states": states}

    def delete_user(self, user_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/api/admin/users/{user_id}")

    def redeploy(self, execution_id: str, from_step: str) -> dict[str, Any]:
        return self._call("POST", f"/api/redeploy/{execution_id}", json={"from_step": from_step})


# ------------------------------------------------------------------------------ sessions


def _age(iso: str | None, now: float) -> str:
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return iso
    seconds = max(0, int(now - moment.timestamp()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def session_rows(
    sessions: list[dict[str, Any]], leases: dict[str, Any], now: float | None = None
) -> list[dict[str, Any]]:
    """One row per session: who, state, lease holder, last activity (newest first)."""
    now = time.time() if now is None else now
    by_session = {lease["session_id"]: lease for lease in leases.get("leases", [])}
    rows = []
    for session in sessions:
        lease = by_session.get(session["session_id"])
        if lease is None:
            holder, lease_state, last = "-", "none", session.get("created_at")
        else:
            holder = lease["owner"]
            lease_state = f"live {lease['seconds_left']:.0f}s" if lease["live"] else "expired"
            last = lease.get("renewed_at") if lease["live"] else lease.get("acquired_at")
            last = max(filter(None, [last, session.get("created_at")]), default=None)
        rows.append(
            {
                "user_id": session["user_id"],
                "session_id": session["session_id"],
                "email": session.get("email") or "",
                "name": session.get("name") or "",
                "state": session["status"],
                "host": holder,
                "lease": lease_state,
                "takeovers": lease.get("takeovers", 0) if lease else 0,
                "last_activity": last,
                "last_activity_age": _age(last, now),
            }
        )
    return rows


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], out: TextIO) -> None:
    widths = [max([len(title)] + [len(str(r[key])) for r in rows]) for key, title in columns]
    print("  ".join(t.ljust(w) for (_, t), w in zip(columns, widths, strict=True)), file=out)
    for row in rows:
        cells = [str(row[key]).ljust(w) for (key, _), w in zip(columns, widths, strict=True)]
        print("  ".join(cells).rstrip(), file=out)


def cmd_sessions(api: OperatorApi, args: argparse.Namespace, out: TextIO) -> int:
    rows = session_rows(api.sessions(args.filter), api.leases())
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return EXIT_OK
    if not rows:
        print("no sessions", file=out)
        return EXIT_OK
    for row in rows:
        row["user"] = row["user_id"][:12]
    _table(
        rows,
        [
            ("user", "USER"),
            ("session_id", "SESSION"),
            ("email", "E-MAIL"),
            ("state", "STATE"),
            ("host", "HOST"),
            ("lease", "LEASE"),
            ("last_activity_age", "LAST ACTIVITY"),
        ],
        out,
    )
    return EXIT_OK


# ------------------------------------------------------------------------------ users


def resolve_user(api: OperatorApi, wanted: str) -> tuple[str, list[dict[str, Any]]]:
    """A full user id from an id, a unique prefix (6+ characters) or an e-mail; and its sessions."""
    wanted = wanted.strip().lower()
    if len(wanted) < _MIN_PREFIX:
        raise OperatorError(
            f"user: give the user id, {_MIN_PREFIX}+ of its first characters, or the e-mail"
        )
    sessions = api.sessions("all")
    users = {
        s["user_id"]
        for s in sessions
        if s["user_id"].startswith(wanted) or (s.get("email") or "").lower() == wanted
    }
    if not users:
        raise OperatorError(f"user: no user matches {wanted!r}")
    if len(users) > 1:
        listed = ", ".join(sorted(u[:12] for u in users))
        raise OperatorError(
            f"user: {wanted!r} matches several users ({listed}); give more of the id"
        )
    user_id = users.pop()
    return user_id, [s for s in sessions if s["user_id"] == user_id]


def attach_command(
    user_id: str,
    leases: dict[str, Any],
    sessions: list[dict[str, Any]],
    stack: dict[str, Any] | None,
) -> list[str]:
    """The tmux command that attaches read-only to the user's pane on its (local) host."""
    from tmux_builder.naming import tmux_session_name

    mine = {s["session_id"] for s in sessions}
    held = [lease for lease in leases.get("leases", []) if lease["session_id"] in mine]
    held.sort(key=lambda lease: (lease["live"], lease.get("renewed_at") or ""), reverse=True)
    if not held:
        raise OperatorError("attach: no agent host has taken this user's session yet")
    holder = held[0]["owner"]
    agents = {a["agent_id"]: a for a in (stack or {}).get("agents", [])}
    if holder not in agents:
        raise OperatorError(
            f"attach: the session is on agent host {holder}, not on this machine. On AWS: "
            f"`aws ssm start-session --target <{holder}'s instance>`, then "
            f"`sudo -u tmuxbuilder tmux -L tmux-builder attach-session -r -t "
            f"{tmux_session_name(user_id)}`"
        )
    if not held[0]["live"]:
        print(f"note: {holder}'s lease on this session has expired", file=sys.stderr)
    tmux = shutil.which("tmux") or "tmux"
    socket = agents[holder]["tmux_socket"]
    return [tmux, "-L", socket, "attach-session", "-r", "-t", tmux_session_name(user_id)]


def cmd_attach(api: OperatorApi, args: argparse.Namespace, out: TextIO) -> int:
    user_id, sessions = resolve_user(api, args.user)
    command = attach_command(user_id, api.leases(), sessions, read_stack(Path(args.state_dir)))
    if args.print_command or not sys.stdin.isatty():
        print(" ".join(command), file=out)
        return EXIT_OK
    os.execvp(command[0], command)  # replaces this process: tmux owns the terminal now
    return EXIT_OK  # pragma: no cover


def cmd_teardown(
    api: OperatorApi, args: argparse.Namespace, out: TextIO, ask: Callable[[str], str] = input
) -> int:
    user_id, sessions = resolve_user(api, args.user)
    sites = ", ".join(s.get("name") or s["session_id"] for s in sessions) or "no sites"
    print(
        f"Tear down user {user_id} ({sessions[0].get('email') or 'no e-mail'}): every site "
        f"({sites}), their cloud resources, the user's cloud identity and tmux session.",
        file=out,
    )
    if not args.yes:
        if not sys.stdin.isatty() and ask is input:
            print("not confirmed: run it in a terminal, or pass --yes", file=sys.stderr)
            return EXIT_NOT_CONFIRMED
        typed = ask(f"Type the first 12 characters of the user id ({user_id[:12]}) to confirm: ")
        if typed.strip() != user_id[:12]:
            print("not confirmed; nothing was changed", file=sys.stderr)
            return EXIT_NOT_CONFIRMED
    answer = api.delete_user(user_id)
    removed = answer.get("removed", [])
    if answer.get("status") == "deleting":
        print(
            f"user {user_id} is being torn down; removed {len(removed)} resource(s) so far, the "
            "rest (waiting for CloudFront or EC2) is removed by later passes on its own; "
            f"`tmux-builder sessions` shows it as deleting until then",
            file=out,
        )
    else:
        print(f"user {user_id} torn down; removed {len(removed)} resource(s)", file=out)
    for item in removed:
        print(f"  {item['resource_type']}: {item['resource_id']}", file=out)
    return EXIT_OK


# ------------------------------------------------------------------------------ builds


def _history_lines(history: dict[str, Any]) -> list[str]:
    lines = [f"execution {history['execution_id']}: {history['status']}"]
    for state in history["states"]:
        took = state.get("duration_seconds")
        attempts = f" (attempt {state['attempts']})" if state.get("attempts", 0) > 1 else ""
        timing = f" {took:.1f}s" if took is not None else ""
        lines.append(f"  {state['status']:<10} {state['name']}{attempts}{timing}")
        for failure in state.get("failures", []):
            again = " (retried)" if failure.get("retried") else ""
            lines.append(
                f"      ! {failure['error']}: {failure.get('cause') or ''}{again}".rstrip()
            )
    if history.get("error"):
        lines.append(f"  error: {history['error']}: {history.get('cause') or ''}".rstrip())
    return lines


def _status_lines(status: dict[str, Any]) -> list[str]:
    lines = [f"execution {status['execution_id']}: {status['status']}"]
    for step in status["steps"]:
        took = step.get("duration_seconds")
        attempts = f" (attempt {step['attempts']})" if step.get("attempts", 0) > 1 else ""
        timing = f" {took:.1f}s" if took is not None else ""
        lines.append(f"  {step['status']:<10} {step['number']}. {step['name']}{attempts}{timing}")
        error = step.get("error")
        if error:
            lines.append(
                f"      ! {error.get('code') or ''}: {error.get('message') or ''}".rstrip()
            )
    if status.get("deployed_url"):
        lines.append(f"  live at {status['deployed_url']}")
    return lines


def cmd_logs(api: OperatorApi, args: argparse.Namespace, out: TextIO) -> int:
    try:
        history = api.history(args.execution_id)
        lines = _history_lines(history)
        payload: dict[str, Any] = history
    except ApiFailure as exc:
        if exc.status_code not in (403, 404, 501):
            raise
        # No history route on this API (or no such execution there): the status route's steps.
        status = api.status(args.execution_id)
        lines = _status_lines(status)
        payload = status
    if args.json:
        print(json.dumps(payload, indent=2), file=out)
    else:
        print("\n".join(lines), file=out)
    failed = payload.get("status") in ("failed", "FAILED", "TIMED_OUT", "ABORTED")
    return EXIT_FAILED if failed and args.exit_status else EXIT_OK


def cmd_redeploy(api: OperatorApi, args: argparse.Namespace, out: TextIO) -> int:
    started = api.redeploy(args.execution_id, args.from_step)
    print(
        f"redeploy {started['execution_id']} started from {started['from_step']} "
        f"(of {started['source_execution_id']}); follow it with "
        f"`tmux-builder logs {started['execution_id']}`",
        file=out,
    )
    return EXIT_OK


# ------------------------------------------------------------------------------ wiring


def add_commands(commands: Any) -> None:
    """Register the operator commands on the ``tmux-builder`` parser."""
    sessions = commands.add_parser("sessions", help="every session: user, state, host, activity")
    sessions.add_argument(
        "--filter", choices=["all", "active", "completed", "deleted"], default="active"
    )
    sessions.add_argument("--json", action="store_true", help="machine-readable output")
    sessions.set_defaults(run=lambda a: run(cmd_sessions, a))

    attach = commands.add_parser("attach", help="attach read-only to a user's tmux pane")
    attach.add_argument("user", help="user id, its first 6+ characters, or the e-mail")
    attach.add_argument(
        "--print-command", action="store_true", help="print the tmux command instead of running it"
    )
    attach.set_defaults(run=lambda a: run(cmd_attach, a))

    logs = commands.add_parser("logs", help="a build's step history with errors")
    logs.add_argument("execution_id")
    logs.add_argument("--json", action="store_true", help="the API's JSON")
    logs.add_argument(
        "--exit-status", action="store_true", help="exit 1 when the build failed (for scripts)"
    )
    logs.set_defaults(run=lambda a: run(cmd_logs, a))

    teardown = commands.add_parser("teardown", help="remove a user and everything they have")
    teardown.add_argument("user", help="user id, its first 6+ characters, or the e-mail")
    teardown.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    teardown.set_defaults(run=lambda a: run(cmd_teardown, a))

    redeploy = commands.add_parser("redeploy", help="redeploy a build's site (same URL)")
    redeploy.add_argument("execution_id")
    redeploy.add_argument(
        "--from", dest="from_step", choices=["deploy", "generate_code"], default="deploy"
    )
    redeploy.set_defaults(run=lambda a: run(cmd_redeploy, a))

    for parser in (sessions, attach, logs, teardown, redeploy):
        parser.add_argument("--api", default=None, help="API base URL (default: the local stack)")


def run(
    command: Callable[[OperatorApi, argparse.Namespace, TextIO], int],
    args: argparse.Namespace,
    out: TextIO | None = None,
) -> int:
    """Run one command with clear messages and the documented exit codes."""
    out = out or sys.stdout
    state_dir = Path(args.state_dir)
    try:
        token = discover_admin_token(state_dir)
        if not token:
            raise OperatorError(
                "no admin credential: set TMUX_BUILDER_ADMIN_TOKEN (or run next to a local stack)"
            )
        api = OperatorApi(discover_api_url(args.api, state_dir), token=token)
        return command(api, args, out)
    except OperatorError as exc:
        print(f"tmux-builder: {exc}", file=sys.stderr)
        return exc.code
    except ApiUnavailable as exc:
        print(f"tmux-builder: {exc}", file=sys.stderr)
        return EXIT_NO_API
    except ApiFailure as exc:
        print(f"tmux-builder: {exc}", file=sys.stderr)
        return EXIT_FAILED if exc.status_code >= 500 else EXIT_REFUSED
