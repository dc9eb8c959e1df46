"""A local QBO stand-in on loopback: Intuit's OAuth endpoints, the v3 accounting API, signed webhooks.

Runner: `with start_sandbox(SandboxSettings(...)) as sandbox:` (base_url, settings, state), `serve(settings)`
for the CLI, `create_app(settings)` for the Starlette app.

QBO paths (same as Intuit's, under one base URL):
  GET  /.well-known/openid_sandbox_configuration   discovery document (intuit-oauth `environment`)
  GET  /connect/oauth2                             consent, auto-approved; `realm=` picks the company
  POST /oauth2/v1/tokens/bearer                    authorization_code and refresh_token grants
  POST /oauth2/v1/tokens/revoke (and /v2/oauth2/tokens/revoke)
  GET|POST /v3/company/{realmId}/query             GET ?query=..., or POST with the text as body
  GET  /v3/company/{realmId}/{entity}/{id}         read
  POST /v3/company/{realmId}/{entity}              create / update (sparse) / ?operation=delete|void
  GET  /v3/company/{realmId}/cdc                   ?entities=A,B&changedSince=...
  POST /v3/company/{realmId}/batch                 BatchItemRequest, at most 30 items
  POST /v3/company/{realmId}/upload                multipart files (+ Attachable metadata) -> AttachableResponse
  GET  /v3/company/{realmId}/download/{id}         the attachment's temporary download URL, as text
  GET  /v3/company/{realmId}/preferences, /v3/company/{realmId}/companyinfo/{realmId}

Sandbox control paths (not QBO; for tests and demos), all JSON:
  POST   /_sandbox/faults        {"kind": "500|503|429|timeout|xml_fault|json_fault_200", "count": N,
                                  "realm"?, "path_contains"?, "delay"?, "after_write"?, "status"?,
                                  "code"?, "message"?, "detail"?, "retry_after"? (429 only: a Retry-After
                                  header)}: the next N matching API calls misbehave
  DELETE /_sandbox/faults        disarm every rule
  GET    /_sandbox/stats         counters per realm (requests, writes, replays, 429s, refreshes, ...)
  POST   /_sandbox/reset         fresh seed data, tokens, limits and counters
  POST   /_sandbox/clock         {"advance_seconds": S}: move the sandbox clock forward
  POST   /_sandbox/tokens/expire {"realm"?}: expire the access tokens now
  POST   /_sandbox/preferences   {"name": "WarnDuplicateBillNumber" | "MultiCurrencyEnabled", "value": bool, "realm"?}
  GET    /_sandbox/files/{realmId}/{attachableId}/{token}   an uploaded file (an Attachable's TempDownloadUri)
"""

from qbo_sftp_assets.sandbox.qbo_server.app import create_app
from qbo_sftp_assets.sandbox.qbo_server.limits import FAULT_KINDS, FaultRule
from qbo_sftp_assets.sandbox.qbo_server.runner import RunningSandbox, SandboxStartError, serve, start_sandbox
from qbo_sftp_assets.sandbox.qbo_server.settings import FIRST_REALM_ID, SECOND_REALM_ID, RealmSpec, SandboxSettings
from qbo_sftp_assets.sandbox.qbo_server.state import SandboxState

__all__ = [
    "FAULT_KINDS",
    "FIRST_REALM_ID",
    "SECOND_REALM_ID",
    "FaultRule",
    "RealmSpec",
    "RunningSandbox",
    "SandboxSettings",
    "SandboxStartError",
    "SandboxState",
    "create_app",
    "serve",
    "start_sandbox",
]
