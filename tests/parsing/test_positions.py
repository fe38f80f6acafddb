"""Line and column of an offset: counted for a file's first few findings, then from a table.

``Source.position`` answers its first questions by counting line breaks (most files
have a few findings, and the table walked every line in Python) and builds the line
table after that; both must give what the table gives, BOM and CRLF included.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred.parsing import nodes
from mcpcred.parsing.nodes import BOM, Source

texts = st.tuples(
    st.booleans(), st.lists(st.sampled_from(["\n", "\r\n", "a", "é", "中", "\U0001f600", BOM]))
).map(lambda t: (BOM if t[0] else "") + "".join(t[1]))


def _by_table(text: str, offset: int) -> tuple[int, int]:
    source = Source(text)
    source._starts()  # built: the table's answer
    return source.position(offset)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(texts, st.lists(st.integers(-3, 40), min_size=1, max_size=40))
def test_counted_positions_are_the_table_positions(text: str, offsets: list[int]) -> None:
    source = Source(text)  # counts for the first offsets, then switches to the table
    assert [source.position(o) for o in offsets] == [_by_table(text, o) for o in offsets]
    if len(offsets) > nodes._COUNTED_POSITIONS:
        assert source._line_starts is not None  # many findings: the table, not counting


def test_a_bom_is_not_a_column_and_crlf_is_one_break() -> None:
    source = Source(BOM + 'a\r\n"b"\nc')
    assert source.position(1) == (1, 1)
    assert source.position(4) == (2, 1)
    assert source.position(8) == (3, 1)
    assert source._line_starts is None  # answered by counting
