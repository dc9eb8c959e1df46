"""The one table the fault suite prints: a row per scenario, the must-be-zero columns last but one."""

from __future__ import annotations

from qbo_sftp_assets_tests.faults.checker import Figures

COLUMNS = (
    "scenario",
    "files",
    "documents",
    "posted",
    "rejected",
    "duplicates",
    "lost",
    "leaked secrets",
    "recovery s",
    "result",
)


def result_of(row: Figures) -> str:
    if row.missed:
        return "FAIL (fault not injected)"
    if row.clean:
        return "ok" if row.known_failure is None else "ok (known failure fixed?)"
    return "KNOWN FAILURE" if row.known_failure else "FAIL"


def render(rows: list[Figures], *, details: bool = True) -> str:
    cells = [
        (
            row.scenario,
            str(row.files),
            str(row.documents),
            str(row.posted),
            str(row.rejected),
            str(row.duplicates),
            str(row.lost),
            str(row.leaked),
            f"{row.recovery_seconds:.1f}",
            result_of(row),
        )
        for row in rows
    ]
    widths = [max(len(c[i]) for c in [COLUMNS, *cells]) for i in range(len(COLUMNS))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.ljust(w) if i in (0, len(values) - 1) else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    out = [line(COLUMNS), "  ".join("-" * w for w in widths), *(line(c) for c in cells)]
    if details:
        for row in rows:
            if row.known_failure:
                out.append(f"\n{row.scenario}: known failure: {row.known_failure}")
            if not row.clean or row.problems:
                out.append(f"\n{row.scenario}:")
                out.extend(f"  - {problem}" for problem in row.problems[:12])
            for note in row.notes:
                out.append(f"  {row.scenario}: {note}")
    return "\n".join(out)
