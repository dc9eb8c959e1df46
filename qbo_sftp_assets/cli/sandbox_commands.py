"""`qbo-sftp sandbox serve`: run the local QBO sandbox server until Ctrl-C; `sandbox edit-bill`: change a
bill through its API, as a QBO user would (the sandbox then sends its webhook)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import httpx

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.sandbox.qbo_server import RunningSandbox, SandboxSettings, serve


class SandboxPortUnavailable(UserFacingError):
    """The requested host/port cannot be bound."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `sandbox serve` to the `qbo-sftp` parser."""
    sandbox = commands.add_parser("sandbox", help="local stand-ins for QuickBooks Online (for demos and tests)")
    actions = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    run = actions.add_parser("serve", help="serve the sandbox QBO API (OAuth, v3 API, webhooks) until Ctrl-C")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8089, help="port to listen on (default 8089; 0 picks a free one)")
    run.add_argument(
        "--access-token-lifetime", type=float, default=3600.0, metavar="S", help="access token lifetime in seconds"
    )
    run.add_argument(
        "--refresh-token-rotation",
        choices=("daily", "every_refresh"),
        default="daily",
        help="when a refresh returns a new refresh token: about once a day as Intuit does (default), "
        "or on every refresh (harsher than Intuit)",
    )
    run.add_argument(
        "--refresh-token-grace",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds a rotated-away refresh token still works (default 0, as Intuit documents today)",
    )
    run.add_argument(
        "--rate-limits",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="enforce QBO's per-realm limits: 500/min, 10 in flight, 40 batch/min (default on)",
    )
    run.add_argument("--clock-speed", type=float, default=1.0, metavar="X", help="rate-limit minute lasts 60/X seconds")
    run.add_argument("--webhook-url", default=None, help="POST signed change notifications here")
    run.add_argument(
        "--webhook-format", choices=("legacy", "cloudevents"), default="legacy", help="webhook payload format"
    )
    run.add_argument("--webhook-verifier-token", default="sandbox-verifier", help="key for intuit-signature")
    run.add_argument("--no-seed", action="store_true", help="start the companies empty")
    run.set_defaults(handler=serve_command)

    defaults = SandboxSettings()
    edit = actions.add_parser(
        "edit-bill", help="change a bill's memo through a running sandbox's API (its webhook follows)"
    )
    edit.add_argument("--url", default="http://127.0.0.1:8089", help="the sandbox (default http://127.0.0.1:8089)")
    edit.add_argument("--realm", default=None, help="the company (default the sandbox's first)")
    edit.add_argument("--id", dest="bill_id", default=None, help="the bill's Id (default the first bill)")
    edit.add_argument("--memo", default=None, help="the new memo, PrivateNote (default: a timestamp)")
    edit.add_argument("--client-id", default=defaults.client_id, help="the sandbox app's client id")
    edit.add_argument("--client-secret", default=defaults.client_secret, help="the sandbox app's (public) secret")
    edit.set_defaults(handler=edit_bill_command)


def settings_from_args(args: argparse.Namespace) -> SandboxSettings:
    if args.clock_speed <= 0:
        raise UserFacingError("--clock-speed must be greater than 0")
    return SandboxSettings(
        host=args.host,
        port=args.port,
        access_token_lifetime=args.access_token_lifetime,
        refresh_token_rotation=args.refresh_token_rotation,
        refresh_token_grace=args.refresh_token_grace,
        rate_limits_enabled=args.rate_limits,
        clock_speed=args.clock_speed,
        webhook_url=args.webhook_url,
        webhook_format=args.webhook_format,
        webhook_verifier_token=args.webhook_verifier_token,
        seed=not args.no_seed,
    )


def describe(sandbox: RunningSandbox) -> str:
    settings = sandbox.settings
    lines = [
        f"QBO sandbox listening on {sandbox.base_url}",
        f"  API base (python-quickbooks api_url_v3): {sandbox.api_url}",
        f"  OpenID discovery (intuit-oauth environment): {sandbox.discovery_url}",
        f"  client id: {settings.client_id}",
        f"  client secret: {settings.client_secret}  (the sandbox's public test secret)",
    ]
    lines += [f"  realm {spec.realm_id}: {spec.company_name}" for spec in settings.realms]
    if settings.webhook_url:
        lines.append(f"  webhooks ({settings.webhook_format}) -> {settings.webhook_url}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def serve_command(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    try:
        serve(settings, on_ready=lambda sandbox: print(describe(sandbox), flush=True))
    except OSError as error:
        raise SandboxPortUnavailable(
            f"cannot listen on {args.host}:{args.port} ({error.strerror}); pick another --port"
        ) from error
    return 0


# The sandbox registers this redirect for its demo app and never opens it: the code comes back in the redirect.
EDIT_REDIRECT_URI = "http://127.0.0.1:8765/callback"


def edit_bill_command(args: argparse.Namespace) -> int:
    """Consent as the sandbox's demo app, then a sparse update of one bill's PrivateNote."""
    memo = args.memo or f"edited by qbo-sftp sandbox edit-bill at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    base = args.url.rstrip("/")
    with httpx.Client(timeout=10) as client:
        try:
            access_token, realm_id = _sandbox_token(client, base, args)
            api = f"{base}/v3/company/{realm_id}"
            headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            if args.bill_id:
                bill = client.get(f"{api}/bill/{args.bill_id}", headers=headers).raise_for_status().json()["Bill"]
            else:
                found = client.get(f"{api}/query", params={"query": "SELECT * FROM Bill"}, headers=headers)
                bills = found.raise_for_status().json()["QueryResponse"].get("Bill", [])
                if not bills:
                    raise UserFacingError(f"realm {realm_id} has no bills to edit")
                bill = bills[0]
            update = {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True, "PrivateNote": memo}
            saved = client.post(f"{api}/bill", json=update, headers=headers).raise_for_status().json()["Bill"]
        except httpx.HTTPStatusError as error:
            raise UserFacingError(f"the sandbox at {base} answered {error.response.status_code}") from error
        except httpx.HTTPError as error:
            raise UserFacingError(f"no sandbox answers at {base} ({type(error).__name__})") from error
    print(
        f"bill {saved['Id']} ({saved.get('DocNumber', 'no DocNumber')}) in realm {realm_id}: SyncToken "
        f"{saved['SyncToken']}, memo {memo!r}"
    )
    return 0


def _sandbox_token(client: httpx.Client, base: str, args: argparse.Namespace) -> tuple[str, str]:
    params = {
        "client_id": args.client_id,
        "redirect_uri": EDIT_REDIRECT_URI,
        "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting",
        "state": "edit-bill",
    }
    if args.realm:
        params["realm"] = args.realm
    consent = client.get(f"{base}/connect/oauth2", params=params)
    if consent.status_code != 302:
        raise UserFacingError(f"the sandbox's consent page answered {consent.status_code}: {consent.text[:200]}")
    callback = httpx.URL(consent.headers["location"]).params
    if "code" not in callback:
        raise UserFacingError(f"the sandbox refused the consent: {callback.get('error')}")
    grant = client.post(
        f"{base}/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": EDIT_REDIRECT_URI},
        auth=(args.client_id, args.client_secret),
        headers={"Accept": "application/json"},
    ).raise_for_status()
    return grant.json()["access_token"], callback["realmId"]
