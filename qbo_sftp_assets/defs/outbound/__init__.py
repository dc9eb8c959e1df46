"""Outbound: each partner feed rendered from QuickBooks and deposited on the partner's server, on schedule."""
