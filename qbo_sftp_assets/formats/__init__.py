"""File formats, pure: bytes in, neutral documents out, and back (CSV, fixed-width, X12, EDIFACT)."""
