"""`qbo-sftp connect COMPANY` (the OAuth consent flow) and `qbo-sftp tokens` (expiry times, never tokens)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from qbo_sftp_assets.config import Company, load_config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.pipeline.connection_health import connection_health
from qbo_sftp_assets.qbo import (
    AnyTokenStore,
    Endpoints,
    LoopbackReceiver,
    OAuthClient,
    OAuthError,
    QboClient,
    QboError,
    TokenRecord,
    TokenStoreError,
    app_credentials,
    check_callback,
    new_state,
    open_token_store,
)


class ConnectFailed(UserFacingError):
    """The token endpoint refused the authorization code."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `connect` and `tokens` to the `qbo-sftp` parser."""
    connect = commands.add_parser(
        "connect",
        help="connect a QuickBooks company: open the printed URL, approve, and the tokens are stored",
    )
    connect.add_argument("company", metavar="COMPANY", help="a company name from the configuration file")
    connect.add_argument(
        "--port",
        type=int,
        default=None,
        help="listen on this loopback port instead of the redirect_uri's (0 picks a free one)",
    )
    connect.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the browser to come back (default 600)"
    )
    connect.set_defaults(handler=connect_command)

    tokens = commands.add_parser("tokens", help="show each connected realm's token expiry times (never the tokens)")
    tokens.set_defaults(handler=tokens_command)


def connect_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    company = config.company(args.company)
    client_id, client_secret = app_credentials(company)
    store = open_token_store(config)
    oauth = OAuthClient(client_id, client_secret, Endpoints.for_company(company))
    try:
        with LoopbackReceiver(company.redirect_uri, port=args.port) as receiver:
            state = new_state()
            print("Open this URL in a browser and approve access to the QuickBooks company:", flush=True)
            print(oauth.consent_url(receiver.redirect_uri, state), flush=True)
            print(f"Waiting for the redirect to {receiver.redirect_uri} ...", flush=True)
            consent = check_callback(receiver.wait(args.timeout), state)
        try:
            grant = oauth.exchange_code(consent.code, receiver.redirect_uri)
        except OAuthError as error:
            raise ConnectFailed(f"QuickBooks refused the authorization code: {error}") from None
    finally:
        oauth.close()
    store.put(TokenRecord.from_grant(consent.realm_id, grant))
    name = _company_name(company, args.company, store, client_id, client_secret, consent.realm_id)
    shown = f"{name} (realm {consent.realm_id})" if name else f"realm {consent.realm_id}"
    print(f"Connected {args.company}: {shown}. Tokens stored in {store.location}.")
    if consent.realm_id != company.realm_id:
        print(
            f"warning: you approved realm {consent.realm_id}, but companies.{args.company}.realm_id in the "
            f"configuration is {company.realm_id}; set realm_id: {consent.realm_id!r} there (or connect the "
            "intended company) before running the pipeline",
            file=sys.stderr,
        )
    return 0


def _company_name(
    company: Company, company_key: str, store: AnyTokenStore, client_id: str, client_secret: str, realm_id: str
) -> str | None:
    """The connected company's name from CompanyInfo, or None if QBO will not tell us right now."""
    with QboClient(company, store, client_id, client_secret, company_name=company_key, realm_id=realm_id) as client:
        try:
            return str(client.company_info().get("CompanyName") or "") or None
        except QboError as error:
            print(f"note: could not read the company's name ({error})", file=sys.stderr)
            return None


def tokens_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = open_token_store(config)
    try:
        records = store.records()
    except TokenStoreError as error:
        raise UserFacingError(str(error)) from None
    now = datetime.now(UTC)
    names = {c.realm_id: name for name, c in config.companies.items()}
    if records:
        print(f"{'company':<16} {'realm':<20} {'access token expires':<34} {'refresh token expires':<34}")
    for realm_id, record in sorted(records.items()):
        print(
            f"{names.get(realm_id, '-'):<16} {realm_id:<20} "
            f"{_when(record.access_expires_at, now):<34} {_when(record.refresh_expires_at, now):<34}"
        )
    if not records and not config.companies:
        print(f"No tokens in {store.location}: run `qbo-sftp connect COMPANY`.")
    unusable = [health for health in connection_health(config, now=now) if not health.usable]
    for health in unusable:
        print(f"{health.company}: {health.detail}")
    # Scripts and monitors read the exit status: a company that cannot be reached is not "fine".
    return TOKENS_NEED_RECONNECT if unusable else 0


TOKENS_NEED_RECONNECT = 3


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "unknown"
    seconds = (moment - now).total_seconds()
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if seconds <= 0:
        return f"{stamp} (expired)"
    if seconds < 3600:
        return f"{stamp} (in {seconds / 60:.0f} min)"
    if seconds < 2 * 86400:
        return f"{stamp} (in {seconds / 3600:.1f} h)"
    return f"{stamp} (in {seconds / 86400:.0f} d)"
