"""``kubectl reentry``: the command line of the kubectl plugin.

Exit codes, so that a pipeline can gate on a plan: 0 Restored, 1 Failed or Aborted, 2 still on
the way (or ``--wait`` timed out), 3 the question could not be answered (bad usage, no such plan,
the API server refused).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx2 as httpx

from reentry.engine.timeutil import format_time
from reentry.model import PAUSED_ANNOTATION, StartPolicy, parse_duration
from reentry.plugin import controls, render, report
from reentry.plugin.api import Api, PluginError
from reentry.plugin.credentials import CredentialError

# While waiting with a deadline, how often the deadline is looked at when nothing changes.
_TICK_SECONDS = 0.5
_CLEAR = "\x1b[H\x1b[2J"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 3: 2 means "still running" here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(render.EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _now() -> datetime:
    return datetime.now(UTC)


def _style() -> render.Style:
    return render.Style(colour=render.wants_colour(sys.stdout), unicode=render.wants_unicode(sys.stdout))


def _phase(plan: dict[str, Any]) -> str | None:
    phase = (plan.get("status") or {}).get("phase")
    return str(phase) if phase else None


# ---- status, watch and wait ----------------------------------------------------------------------


def _status(api: Api, args: argparse.Namespace) -> int:
    style = _style()
    if not (args.watch or args.wait):
        current = api.get(args.name)
        sys.stdout.write(render.render_status(current, _now(), style))
        return render.exit_code(_phase(current))

    deadline = time.monotonic() + parse_duration(args.timeout).total_seconds() if args.timeout else None
    shown = ""
    phase: str | None = None
    plan: dict[str, Any] | None = None
    for seen in api.follow(args.name, _TICK_SECONDS if deadline else None):
        if seen is not None:
            plan = seen
            if args.watch:
                shown = _show_again(plan, shown, style)
            elif _phase(plan) != phase:
                message = (plan.get("status") or {}).get("message")
                print(f"{args.name}: {_phase(plan) or 'no status yet'}" + (f": {message}" if message else ""),
                      file=sys.stderr)
            phase = _phase(plan)
            if render.is_terminal(phase):
                break
        if deadline is not None and time.monotonic() >= deadline:
            print(f"{args.name}: timed out after {args.timeout} in phase {phase or 'unknown'}", file=sys.stderr)
            break
    assert plan is not None  # follow() yields the plan first or raises
    if args.wait and not args.watch:
        sys.stdout.write(render.render_status(plan, _now(), style))
    return render.exit_code(phase)


def _show_again(plan: dict[str, Any], shown: str, style: render.Style) -> str:
    """Print the tree if it changed: redrawn in place on a terminal, appended when piped."""
    text = render.render_status(plan, _now(), style)
    if text != shown:
        if sys.stdout.isatty():
            sys.stdout.write(_CLEAR)
        elif shown:
            sys.stdout.write("\n")
        sys.stdout.write(text)
        sys.stdout.flush()
    return text


def _list(api: Api, args: argparse.Namespace) -> int:
    sys.stdout.write(render.render_list(api.plans(args.all_namespaces), _now(), _style()))
    return 0


# ---- controls --------------------------------------------------------------------------------------


def _start(api: Api, args: argparse.Namespace) -> int:
    plan = api.get(args.name)
    if (plan.get("spec") or {}).get("start") == StartPolicy.ON_TECHNICAL_RECOVERY.value:
        print(f"note: {args.name} starts by itself once technical recovery passes; the annotation starts it now",
              file=sys.stderr)
    api.merge_patch(args.name, controls.start_patch(format_time(_now())))
    print(f"recoveryplan/{args.name} start requested (was {_phase(plan) or 'without status'})")
    return 0


def _pause(api: Api, args: argparse.Namespace) -> int:
    api.merge_patch(args.name, controls.pause_patch())
    print(f"recoveryplan/{args.name} pause requested")
    return 0


def _resume(api: Api, args: argparse.Namespace) -> int:
    plan = api.get(args.name)
    patch = controls.resume_patch(plan, format_time(_now()))
    if patch is None:
        print(f"recoveryplan/{args.name} is not paused (phase {_phase(plan) or 'unknown'}); nothing to resume")
        return 0
    api.merge_patch(args.name, patch)
    how = "pause annotation removed" if PAUSED_ANNOTATION in patch["metadata"]["annotations"] else "resume token set"
    print(f"recoveryplan/{args.name} resume requested ({how})")
    return 0


def _abort(api: Api, args: argparse.Namespace) -> int:
    api.merge_patch(args.name, controls.abort_patch(args.reason))
    print(f"recoveryplan/{args.name} abort requested: {args.reason}")
    return 0


def _approve(api: Api, args: argparse.Namespace) -> int:
    api.get(args.name)  # a missing plan is named before anyone is asked who they are
    user = api.whoami()
    api.merge_patch(args.name, controls.approve_patch(user, args.comment))
    print(f"recoveryplan/{args.name} approved by {user} (identity from SelfSubjectReview)")
    return 0


def _override(api: Api, args: argparse.Namespace) -> int:
    for _ in range(3):  # the patch tests the resourceVersion; a concurrent write means read again
        plan = api.get(args.name)
        ops = controls.override_patch(plan, args.check, args.reason)
        if ops is None:
            print(f"recoveryplan/{args.name}: check {args.check} is already overridden; unchanged")
            return 0
        try:
            api.json_patch(args.name, ops)
        except PluginError as err:
            if "test" in str(err).lower() or "resourceversion" in str(err).lower():
                continue
            raise
        print(f"recoveryplan/{args.name}: check {args.check} overridden: {args.reason}")
        return 0
    raise PluginError(f"recoveryplan/{args.name} kept changing while adding the override; try again")


def _report(api: Api, args: argparse.Namespace) -> int:
    text = report.render(api.get(args.name), args.output, _now())
    if args.file:
        with open(args.file, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"recoveryplan/{args.name}: {args.output} report written to {args.file}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# ---- the command line ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """``kubectl reentry`` and its subcommands."""
    common = _Parser(add_help=False)
    common.add_argument("--kubeconfig", help="path to the kubeconfig (default: the files of KUBECONFIG, merged as "
                        "kubectl merges them, then ~/.kube/config)")
    common.add_argument("--context", help="the kubeconfig context to use (default: the current one)")
    common.add_argument("-n", "--namespace", help="the plan's namespace (default: the context's)")

    p = _Parser(prog="kubectl reentry", description="Follow and steer RecoveryPlans (reentry.dev).",
                epilog="exit codes: 0 Restored, 1 Failed or Aborted, 2 still running or timed out, 3 error")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    status = sub.add_parser("status", parents=[common], help="the plan as a tree; exit code by phase")
    status.add_argument("name")
    status.add_argument("-w", "--watch", action="store_true", help="redraw on every change until the plan ends")
    status.add_argument("--wait", action="store_true", help="block until Restored (0), Failed/Aborted (1) "
                        "or --timeout (2)")
    status.add_argument("--timeout", help="with --wait or -w: give up after this long (e.g. 90s, 10m)")
    status.set_defaults(func=_status)

    listing = sub.add_parser("list", parents=[common], help="plans with phase, stage, weight, age and owner")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.set_defaults(func=_list)

    for name, func, what in (("start", _start, "start a start: Manual plan"),
                             ("pause", _pause, "pause the re-entry where it is"),
                             ("resume", _resume, "resume a paused plan (a manual pause or one by timeout)")):
        cmd = sub.add_parser(name, parents=[common], help=what)
        cmd.add_argument("name")
        cmd.set_defaults(func=func)

    abort = sub.add_parser("abort", parents=[common], help="stop the re-entry for good")
    abort.add_argument("name")
    abort.add_argument("--reason", required=True)
    abort.set_defaults(func=_abort)

    approve = sub.add_parser("approve", parents=[common], help="approve at the finish line, as yourself")
    approve.add_argument("name")
    approve.add_argument("--comment", default="")
    approve.set_defaults(func=_approve)

    record = sub.add_parser("report", parents=[common], help="the record of the re-entry, for an incident review")
    record.add_argument("name")
    record.add_argument("-o", "--output", choices=report.FORMATS, default="md",
                        help="md (default) to paste in a review, json for tooling, html: one self-contained page")
    record.add_argument("-f", "--file", help="write the report to this file instead of standard output")
    record.set_defaults(func=_report)

    override = sub.add_parser("override", parents=[common], help="count a check as passed (spec.overrides)")
    override.add_argument("name")
    override.add_argument("check")
    override.add_argument("--reason", required=True)
    override.set_defaults(func=_override)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kubectl-reentry`` executable."""
    args = parser().parse_args(argv)
    if args.command == "status" and args.timeout:
        try:
            parse_duration(args.timeout)
        except ValueError as err:
            print(f"kubectl reentry: --timeout: {err}", file=sys.stderr)
            return render.EXIT_ERROR
    try:
        api = Api.connect(args.kubeconfig, args.context, args.namespace)
        result: int = args.func(api, args)
    except (PluginError, controls.ControlError, CredentialError) as err:
        print(f"kubectl reentry {args.command}: {err}", file=sys.stderr)
        return render.EXIT_ERROR
    except httpx.HTTPError as err:  # unreachable server, or an answer that is not a Kubernetes Status
        print(f"kubectl reentry {args.command}: {err}", file=sys.stderr)
        return render.EXIT_ERROR
    except KeyboardInterrupt:
        return render.EXIT_RUNNING
    except BrokenPipeError:  # `kubectl reentry list | head`: the reader has what it wanted
        # Python's documented idiom: point stdout at devnull so the exit's flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return render.EXIT_ERROR
    return result
