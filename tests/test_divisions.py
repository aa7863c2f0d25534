"""Administrative division codes: which area a code lies in (simulator/divisions.py)."""

import pytest

from simulator import divisions


@pytest.mark.parametrize(("code", "area", "inside"), [
    ("510100", "510000", True),    # Chengdu in Sichuan
    ("510700", "510000", True),    # Mianyang in Sichuan
    ("500000", "510000", False),   # Chongqing is a municipality of its own
    ("500103", "500000", True),    # a Chongqing district in Chongqing
    ("410200", "510000", False),   # Kaifeng
    ("410205", "410200", True),    # a Kaifeng district in Kaifeng
    ("410100", "410200", False),   # Zhengzhou is not Kaifeng
    ("410205", "410204", False),   # counties are their own area
])
def test_a_code_lies_within_its_province_and_city(code, area, inside):
    assert divisions.within(code, area) is inside


def test_a_province_and_a_list_of_areas():
    assert divisions.province("510100") == "510000"
    assert divisions.within_any("500000", ["510000", "510100", "500000"])
    assert not divisions.within_any("410200", ["510000", "500000"])
    assert not divisions.within_any("410200", [])


@pytest.mark.parametrize("bad", ["51010", "5101000", "51010A", ""])
def test_a_malformed_code_is_refused(bad):
    with pytest.raises(ValueError, match="six digits"):
        divisions.within(bad, "510000")
