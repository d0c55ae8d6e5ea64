"""Stream one gateway's account events and quotes as readable lines until Ctrl-C.

    PROJECTX_USERNAME=demo PROJECTX_API_KEY=demo-api-key \\
        python examples/stream.py --gateway http://127.0.0.1:8700
    python examples/stream.py --gateway topstepx            # the real TopstepX hosts
    python examples/stream.py --gateway URL --record day.jsonl
    python examples/stream.py --replay day.jsonl            # no network at all

Logs in with the API key, lists the accounts, subscribes to every active account (or the
``--account`` ones) on the user hub and to quotes of every contract the accounts hold or work
orders in (plus ``--contract`` ones, and any contract that appears in a later event), then
prints each domain event — the same events the daemon's engine consumes.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
from collections.abc import Callable

from simple_risk.adapters.replay import Recorder, replay
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.hubs import MarketHubClient, UserHubClient, hub_urls
from simple_risk.adapters.topstepx.rest import TOPSTEPX_API, Credentials, RestClient
from simple_risk.engine.events import (
    AccountUpdate,
    ConnectionChanged,
    ContractLoaded,
    Event,
    OrderUpdate,
    PositionUpdate,
    Quote,
    TradeFill,
)


def describe(event: Event) -> str:
    """One readable line per event."""
    stamp = event.at.strftime("%H:%M:%S.%f")[:-3]
    match event:
        case AccountUpdate():
            text = (
                f"ACCOUNT  {event.account_id} {event.name} balance={event.balance} "
                f"can_trade={event.can_trade}"
            )
        case OrderUpdate():
            price = event.stop_price or event.limit_price or event.filled_price or ""
            text = (
                f"ORDER    {event.order_id} {event.status.name} {event.type.name} "
                f"{event.side.name} {event.fill_volume}/{event.size} {event.contract_id} {price}"
            )
        case TradeFill():
            pnl = "open" if event.pnl is None else f"pnl={event.pnl}"
            text = (
                f"FILL     {event.trade_id} order={event.order_id} {event.side.name} "
                f"{event.size} {event.contract_id} @ {event.price} {pnl} fees={event.fees}"
                f"{' VOIDED' if event.voided else ''}"
            )
        case PositionUpdate():
            text = (
                f"POSITION {event.contract_id} {event.type.name} {event.size} "
                f"@ {event.average_price}"
            )
        case Quote():
            text = f"QUOTE    {event.contract_id} last={event.last} bid={event.bid} ask={event.ask}"
        case ConnectionChanged():
            gap = " (gap: reconcile)" if event.gap else ""
            text = f"HUB      {event.hub} {event.state}{gap} {event.detail}"
        case ContractLoaded():
            info = event.contract
            text = f"CONTRACT {info.contract_id} root={info.root} tick={info.tick_size}"
        case _:
            text = repr(event)
    return f"{stamp} {text}"


def run_replay(path: str, out: Callable[[str], None]) -> int:
    for event in replay(path):
        out(describe(event))
    return 0


def run_live(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    username = os.environ.get("PROJECTX_USERNAME")
    api_key = os.environ.get("PROJECTX_API_KEY")
    if not username or not api_key:
        print("set PROJECTX_USERNAME and PROJECTX_API_KEY", file=sys.stderr)
        return 2
    base = TOPSTEPX_API if args.gateway == "topstepx" else args.gateway
    user_url, market_url = hub_urls(args.gateway)
    recorder = Recorder(args.record) if args.record else None
    client = RestClient(base, Credentials(username, api_key), recorder=recorder)
    events: queue.Queue[Event] = queue.Queue()
    accounts = client.search_accounts(only_active=True)
    for account in accounts:
        out(describe(account))
    chosen = [a.account_id for a in accounts if not args.account or a.account_id in args.account]
    contracts = ContractCache(client, sink=events)
    user = UserHubClient(user_url, client, events, clock=client.clock, recorder=recorder)
    market = MarketHubClient(market_url, client, events, clock=client.clock, recorder=recorder)
    watched: set[str] = set(args.contract)
    for account_id in chosen:
        user.subscribe_account(account_id)
        watched.update(p.contract_id for p in client.open_positions(account_id))
        watched.update(o.contract_id for o in client.open_orders(account_id))
    for contract_id in sorted(watched):
        market.subscribe_quotes(contract_id)
        contracts.request(contract_id)
    user.start()
    market.start()
    try:
        while True:
            event = events.get()
            named: object = getattr(event, "contract_id", None)
            if isinstance(named, str) and named not in watched:
                contract_id = named
                watched.add(contract_id)
                market.subscribe_quotes(contract_id)
                contracts.request(contract_id)
            out(describe(event))
    except KeyboardInterrupt:
        return 0
    finally:
        user.stop()
        market.stop()
        contracts.close()
        client.close()
        if recorder is not None:
            recorder.close()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gateway", help="REST base URL, or 'topstepx' for the real hosts")
    source.add_argument("--replay", metavar="FILE", help="print the events of a recording")
    parser.add_argument("--record", metavar="FILE", help="append every wire message here")
    parser.add_argument("--account", type=int, action="append", default=[])
    parser.add_argument("--contract", action="append", default=[], help="also quote this id")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    def out(line: str) -> None:
        print(line, flush=True)

    # Ctrl-C even when started with SIGINT ignored (a background job), and a clean SIGTERM.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    try:
        if args.replay:
            return run_replay(args.replay, out)
        return run_live(args, out)
    except BrokenPipeError:
        # the reader went away (`… | head`): nothing more to print, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        return 0


if __name__ == "__main__":
    sys.exit(main())
