"""`python -m registry list|show|alias|promote|verify|archive|unarchive`: readable tables over the registry verbs.

Stages are aliases (`registry.stages`): `promote MODEL VERSION --to production|staging` moves `champion` or
`challenger` after the admission check (archived: refused; gate not passed: refused unless `--force --reason`);
`alias set` moves any alias with no check. Exit codes: 0 done, 1 error or refused, 2 digest verification failed.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rayship.errors import RayshipError
from registry import catalog
from registry.api import PinnedVersion, resolve, verify
from registry.connection import connect
from registry.manifest import FileStatus
from registry.promotion import promote
from registry.stages import parse_stage, stage_of

EXIT_OK, EXIT_ERROR, EXIT_VERIFY_FAILED = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m registry", description="rayship's MLflow model registry.")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="registered models, or the versions of one model")
    listing.add_argument("model", nargs="?", help="model name: list its versions")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show = commands.add_parser("show", help="the model card of a version: metrics, lineage, digests")
    show.add_argument("model_uri", help="models:/iris/3, iris@champion, iris/3 ...")
    show.add_argument("--json", action="store_true", help="print JSON instead of tables")
    alias = commands.add_parser("alias", help="set, move or delete an alias")
    alias_commands = alias.add_subparsers(dest="alias_command", required=True)
    alias_set = alias_commands.add_parser("set", help="point ALIAS at VERSION (a number, or @other-alias)")
    alias_set.add_argument("model")
    alias_set.add_argument("alias")
    alias_set.add_argument("version", help="version number, or @alias to copy (e.g. @challenger)")
    alias_delete = alias_commands.add_parser("delete", help="remove ALIAS")
    alias_delete.add_argument("model")
    alias_delete.add_argument("alias")
    promotion = commands.add_parser(
        "promote", help="move a stage alias to VERSION: production (alias champion) or staging (alias challenger)"
    )
    promotion.add_argument("model")
    promotion.add_argument("version", help="version number, or @alias (e.g. @challenger)")
    promotion.add_argument(
        "--to", required=True, dest="stage", metavar="STAGE", help="production or staging (or its alias)"
    )
    promotion.add_argument(
        "--force", action="store_true", help="promote a version the champion gate did not pass (needs --reason)"
    )
    promotion.add_argument("--reason", help="why --force; recorded on the version (rayship.force_reason)")
    check = commands.add_parser("verify", help="recompute every artifact digest of a version")
    check.add_argument("model_uri")
    archive = commands.add_parser("archive", help="mark a version archived (refused while an alias holds it)")
    archive.add_argument("model_uri")
    unarchive = commands.add_parser("unarchive", help="remove the archived mark: the version may be deployed again")
    unarchive.add_argument("model_uri")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        client = connect(args.tracking_uri)
        return COMMANDS[args.command](args, client, console)
    except RayshipError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_ERROR


def _list(args, client, console: Console) -> int:
    if args.model is None:
        models = catalog.list_models(client)
        if args.json:
            console.print_json(json.dumps([m.model_dump(mode="json") for m in models]))
            return EXIT_OK
        table = Table("model", "latest", "aliases", "description", title="registered models")
        for m in models:
            aliases = ", ".join(f"{a}=v{v}" for a, v in m.aliases.items())
            table.add_row(m.name, m.latest_version or "-", aliases or "-", m.description or "")
        console.print(table)
        return EXIT_OK
    cards = catalog.list_versions(args.model, client)
    if args.json:
        console.print_json(json.dumps([c.model_dump(mode="json") for c in cards]))
        return EXIT_OK
    table = Table("version", "aliases", "created (UTC)", "metrics", "gate", "flavor", "digests", title=args.model)
    for c in cards:
        table.add_row(
            c.version + (" [dim](archived)[/dim]" if c.archived else ""),
            ", ".join(c.aliases) or "-",
            c.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            _metrics_text(c.metrics, "\n"),
            c.gate or "-",
            c.lineage.get("flavor", "-"),
            f"{len(c.digests)} files" if c.digests else "[red]none[/red]",
        )
    console.print(table)
    return EXIT_OK


def _show(args, client, console: Console) -> int:
    card = catalog.model_card(resolve(args.model_uri, client=client), client)
    if args.json:
        console.print_json(card.model_dump_json())
        return EXIT_OK
    summary = Table(show_header=False, title=f"model card {card.name}/{card.version}")
    summary.add_row("uri", card.pinned.uri)
    summary.add_row("aliases", ", ".join(card.aliases) or "-")
    summary.add_row("stage", stage_of(card.aliases, card.archived) or "-")
    summary.add_row("created (UTC)", card.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    summary.add_row("source", card.source)
    summary.add_row("run", card.run_id or "-")
    summary.add_row("archived", "yes" if card.archived else "no")
    summary.add_row("gate", f"{card.gate or '-'}" + (f": {card.gate_reasons}" if card.gate_reasons else ""))
    summary.add_row("metrics", _metrics_text(card.metrics))
    for key, value in card.lineage.items():
        summary.add_row(key, value)
    console.print(summary)
    digests = Table("file", "sha256", title="digests")
    for path, digest in (card.digests or {}).items():
        digests.add_row(path, digest)
    console.print(digests if card.digests else "[red]no digest manifest: this version will not be served[/red]")
    return EXIT_OK


def _alias(args, client, console: Console) -> int:
    if args.alias_command == "delete":
        previous = catalog.delete_alias(args.model, args.alias, client)
        console.print(f"deleted alias '{args.alias}' of {args.model} (was v{previous})")
        return EXIT_OK
    version = args.version
    if version.startswith("@"):
        version = resolve(f"{args.model}{version}", client=client).version
    move = catalog.set_alias(args.model, args.alias, version, client)
    before = f" (was v{move.previous_version})" if move.previous_version else " (new)"
    console.print(f"{move.name}@{move.alias} -> v{move.version}{before}")
    return EXIT_OK


def _promote(args, client, console: Console) -> int:
    stage = parse_stage(args.stage)
    version = args.version
    if version.startswith("@"):
        version = resolve(f"{args.model}{version}", client=client).version
    pinned = PinnedVersion(name=args.model, version=version)
    done = promote(pinned, stage, force=args.force, reason=args.reason, client=client)
    move = done.move
    before = f" (was v{move.previous_version})" if move.previous_version else " (new)"
    plain = {"markup": False, "highlight": False, "soft_wrap": True}  # a reason is the operator's text, as typed
    console.print(f"promoted {pinned} to {stage.value}: {move.name}@{move.alias} -> v{move.version}{before}", **plain)
    if done.admission.forced:
        console.print(
            f"forced past the champion gate (rayship.gate={done.admission.gate}); "
            f"reason recorded on {pinned}: {done.admission.reason}",
            **plain,
        )
    return EXIT_OK


def _verify(args, client, console: Console) -> int:
    pinned: PinnedVersion = resolve(args.model_uri, client=client)
    report = verify(pinned, client=client)
    table = Table("file", "status", "expected sha256", "actual sha256", title=f"verify {pinned}")
    for check in report.files:
        style = "green" if check.status is FileStatus.OK else "red"
        table.add_row(
            check.path,
            f"[{style}]{check.status.value}[/{style}]",
            (check.expected_sha256 or "-")[:16],
            (check.actual_sha256 or "-")[:16],
        )
    console.print(table)
    if report.ok:
        console.print(f"[green]{pinned}: all {len(report.files)} files match the registration manifest[/green]")
        return EXIT_OK
    console.print(f"[red]Model {pinned} failed digest verification: {'; '.join(report.problems)}[/red]")
    return EXIT_VERIFY_FAILED


def _archive(args, client, console: Console) -> int:
    card = catalog.archive(resolve(args.model_uri, client=client), client)
    console.print(f"archived {card.name}/{card.version}")
    return EXIT_OK


def _unarchive(args, client, console: Console) -> int:
    pinned = resolve(args.model_uri, client=client)
    changed = catalog.unarchive(pinned, client)
    console.print(f"unarchived {pinned}" if changed else f"{pinned} is not archived; nothing to do")
    return EXIT_OK


def _metrics_text(metrics: dict[str, float], separator: str = "  ") -> str:
    return separator.join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())) or "-"


COMMANDS = {
    "list": _list,
    "show": _show,
    "alias": _alias,
    "promote": _promote,
    "verify": _verify,
    "archive": _archive,
    "unarchive": _unarchive,
}
