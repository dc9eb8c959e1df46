"""The query endpoint: QBO's SQL subset, paging, COUNT, name-list defaults, parser faults, GET and POST."""

from __future__ import annotations


def query(api, text: str) -> dict:
    response = api.get("/query", params={"query": text})
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"]


def test_select_all_vendors_returns_query_response_shape(qbo_api):
    response = qbo_api.get("/query", params={"query": "select * from Vendor"}).json()
    assert set(response) == {"QueryResponse", "time"}
    page = response["QueryResponse"]
    assert page["startPosition"] == 1
    assert page["maxResults"] == len(page["Vendor"]) == 6


def test_count_returns_total_count(qbo_api):
    assert query(qbo_api, "SELECT COUNT(*) FROM Bill") == {"totalCount": 4}


def test_paging_with_startposition_and_maxresults(qbo_api):
    ids = [row["Id"] for row in query(qbo_api, "select * from Account orderby Id")["Account"]]
    first = query(qbo_api, "select * from Account ORDERBY Id STARTPOSITION 1 MAXRESULTS 5")
    second = query(qbo_api, "select * from Account ORDERBY Id STARTPOSITION 6 MAXRESULTS 5")
    assert [row["Id"] for row in first["Account"]] == ids[:5]
    assert [row["Id"] for row in second["Account"]] == ids[5:10]
    assert second["startPosition"] == 6 and second["maxResults"] == 5
    assert query(qbo_api, "select * from Account STARTPOSITION 500 MAXRESULTS 5") == {}


def test_maxresults_is_capped_at_1000(qbo_sandbox, qbo_api):
    for index in range(3):
        qbo_api.post("/class", json={"Name": f"Extra {index}"})
    assert query(qbo_api, "select * from Class MAXRESULTS 5000")["maxResults"] == 7


def test_where_operators(qbo_api):
    assert [
        row["DisplayName"]
        for row in query(qbo_api, "select * from Vendor where DisplayName = 'Fastenal Dayton'")["Vendor"]
    ] == ["Fastenal Dayton"]
    like = query(qbo_api, "select * from Vendor where DisplayName like '%Steel%'")["Vendor"]
    assert [row["DisplayName"] for row in like] == ["Great Lakes Steel Supply"]
    in_list = query(qbo_api, "select * from Vendor where Id in ('1', '3')")["Vendor"]
    assert [row["Id"] for row in in_list] == ["1", "3"]
    big = query(qbo_api, "select * from Bill where TotalAmt >= 1875.50 ORDERBY TotalAmt DESC")["Bill"]
    assert [row["TotalAmt"] for row in big] == [4590.0, 3120.44, 1875.5]
    dated = query(qbo_api, "select * from Bill where TxnDate < '2000-01-01'")
    assert dated == {}
    by_ref = query(qbo_api, "select * from Bill where VendorRef = '2'")["Bill"]
    assert [row["DocNumber"] for row in by_ref] == ["PMP-2291"]


def test_metadata_last_updated_time_filter_and_order(qbo_api):
    created = qbo_api.post("/class", json={"Name": "Fresh"}).json()["Class"]
    since = created["MetaData"]["LastUpdatedTime"]
    newer = query(
        qbo_api, f"select * from Class where Metadata.LastUpdatedTime >= '{since}' ORDERBY Metadata.LastUpdatedTime ASC"
    )
    assert [row["Name"] for row in newer["Class"]] == ["Fresh"]


def test_name_lists_hide_inactive_rows_unless_active_is_asked_for(qbo_api):
    vendor = qbo_api.get("/vendor/6").json()["Vendor"]
    qbo_api.post("/vendor", json={"Id": "6", "SyncToken": vendor["SyncToken"], "sparse": True, "Active": False})
    assert query(qbo_api, "select count(*) from Vendor")["totalCount"] == 5
    assert query(qbo_api, "select count(*) from Vendor where Active in (true, false)")["totalCount"] == 6
    assert query(qbo_api, "select count(*) from Vendor where Active = false")["totalCount"] == 1


def test_query_sent_as_post_text_like_python_quickbooks(qbo_api):
    response = qbo_api.post("/query", content=b"select * from Term", headers={"Content-Type": "application/text"})
    assert response.status_code == 200
    assert len(response.json()["QueryResponse"]["Term"]) == 4


def test_bad_syntax_is_a_parser_fault_4000(qbo_api):
    for text in ("select * form Vendor", "select * from Vendor where", "select * from Vendor where Id ~ 1"):
        response = qbo_api.get("/query", params={"query": text})
        assert response.status_code == 400, text
        error = response.json()["Fault"]["Error"][0]
        assert error["code"] == "4000"
        assert error["Detail"].startswith("QueryParserError")


def test_entity_names_are_case_sensitive(qbo_api):
    response = qbo_api.get("/query", params={"query": "select * from vendor"})
    assert response.status_code == 400


def test_quoted_number_compares_as_a_number(qbo_api):
    assert query(qbo_api, "select count(*) from Bill where TotalAmt > '3000'")["totalCount"] == 2


def test_company_info_and_preferences_can_be_queried(qbo_api):
    assert query(qbo_api, "select * from CompanyInfo")["CompanyInfo"][0]["CompanyName"] == "Northwind Fabrication LLC"
    assert query(qbo_api, "select * from Preferences")["Preferences"][0]["Id"] == "1"


def test_string_comparisons_ignore_case_as_qbo_does(qbo_api):
    found = query(qbo_api, "select * from Account where Name = 'operating checking'")["Account"]
    assert [row["Name"] for row in found] == ["Operating Checking"]
    assert query(qbo_api, "select * from Vendor where DisplayName IN ('FASTENAL DAYTON')")["Vendor"]
    assert query(qbo_api, "select * from Account where AccountType = 'bank'")["Account"]


def test_not_equal_is_answered(qbo_api):
    # The clause python-quickbooks' integration suite sends to Intuit (test_transfer.py).
    text = "select * from Account where Classification = 'Asset' AND FullyQualifiedName != 'Accounts Receivable (A/R)'"
    names = {row["Name"] for row in query(qbo_api, text)["Account"]}
    assert "Operating Checking" in names and "Accounts Receivable (A/R)" not in names
    assert len(query(qbo_api, "select * from Bill where DocNumber != 'gls-44812'")["Bill"]) == 3
