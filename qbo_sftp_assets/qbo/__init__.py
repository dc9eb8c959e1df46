"""QuickBooks Online Accounting API over httpx: OAuth 2.0, the client, faults, limits, webhooks."""
