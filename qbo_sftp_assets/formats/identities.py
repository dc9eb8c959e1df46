"""Who we and a partner are in an interchange: the X12 and EDIFACT identities of a partner's config.

They live here, not in `config`, so that the writers that put them in ISA/GS and UNB type them for
real; `config.Partner` holds them as `x12:` and `edifact:`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The syntax levels (UNB S001 0001) the EDIFACT reader decodes and the CONTRL / APERAK writers encode:
# keep in step with `edifact.tokenizer.SYNTAX_ENCODINGS` (a test checks that they agree).
EdifactSyntax = Literal[
    "UNOA", "UNOB", "UNOC", "UNOD", "UNOE", "UNOF", "UNOG", "UNOH", "UNOI", "UNOJ", "UNOK", "UNOW", "UNOY"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class X12Identity(_Strict):
    """Our and the partner's interchange and group ids (ISA05-08, GS02-03).

    `our_name` is the name our outbound 810s give us as the selling party (N1*SE); without it the
    partner's `company` key stands in.
    """

    our_qualifier: str = Field(default="ZZ", min_length=2, max_length=2)
    our_id: str = Field(min_length=1, max_length=15)
    partner_qualifier: str = Field(default="ZZ", min_length=2, max_length=2)
    partner_id: str = Field(min_length=1, max_length=15)
    our_group_id: str | None = None
    partner_group_id: str | None = None
    our_name: str | None = Field(default=None, min_length=1, max_length=60)
    version: str = "00401"
    usage: Literal["P", "T"] = "P"
    request_ta1: bool = False

    def our_ids(self) -> frozenset[str]:
        """The ids that say an interchange is ours: ISA06 and GS02 as we send them."""
        return frozenset(i for i in (self.our_id, self.our_group_id) if i)


class EdifactIdentity(_Strict):
    """Our and the partner's UNB ids and qualifiers, and the syntax level our CONTRL / APERAK use."""

    our_id: str = Field(min_length=1, max_length=35)
    our_qualifier: str | None = None
    partner_id: str = Field(min_length=1, max_length=35)
    partner_qualifier: str | None = None
    syntax: EdifactSyntax = "UNOC"
