"""`make prices`: Price List API calls checked by botocore's Stubber against the real service model."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from tooling import prices
from tooling.cost import PRICES_FILE

TABLE = """\
region: us-east-1
date: "2026-01-01"
refreshed_by: hand
hours_per_month: 730
prices:
  nat.hour:
    price: 0.045
    unit: NAT gateway-hour  # a comment that must survive
    source: https://aws.amazon.com/vpc/pricing/
    query: {service: AmazonEC2, filters: {usagetype: USE1-NatGateway-Hours}}
  rds.db.m7g.large:
    price: 0.168
    unit: instance-hour
    source: https://aws.amazon.com/rds/postgresql/pricing/
    query: {service: AmazonRDS, filters: {instanceType: db.m7g.large, databaseEngine: PostgreSQL}}
"""


def _product(*usd: str) -> str:
    dimensions = {f"d{i}": {"beginRange": "0", "pricePerUnit": {"USD": price}} for i, price in enumerate(usd)}
    # a second tier (from 10 TB on) is not the price of the first unit
    dimensions["tier2"] = {"beginRange": "10240", "pricePerUnit": {"USD": "0.001"}}
    return json.dumps({"product": {}, "terms": {"OnDemand": {"offer": {"priceDimensions": dimensions}}}})


def _expect(stubber: Stubber, service: str, filters: dict[str, str], region: str, *products: str) -> None:
    expected = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}] + [
        {"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()
    ]
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": list(products)},
        {"ServiceCode": service, "Filters": expected, "FormatVersion": "aws_v1"},
    )


@pytest.fixture
def client():
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_refresh_rewrites_prices_region_and_date_and_keeps_comments(client, tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(TABLE)
    with Stubber(client) as stubber:
        # eu-west-1's usage types carry the EU- prefix instead of USE1-
        _expect(stubber, "AmazonEC2", {"usagetype": "EU-NatGateway-Hours"}, "eu-west-1", _product("0.048"))
        _expect(stubber, "AmazonRDS", {"instanceType": "db.m7g.large", "databaseEngine": "PostgreSQL"}, "eu-west-1",
                _product("0.184"), _product("0.184"))  # fmt: skip
        assert prices.main(["--region", "eu-west-1"], client=client, path=path) == 0
        stubber.assert_no_pending_responses()
    text = path.read_text()
    table = yaml.safe_load(text)
    assert table["region"] == "eu-west-1" and table["date"] != "2026-01-01"
    assert table["prices"]["nat.hour"]["price"] == 0.048
    assert table["prices"]["rds.db.m7g.large"]["price"] == 0.184
    assert "# a comment that must survive" in text


def test_an_ambiguous_query_keeps_the_old_price_and_names_it(client, tmp_path, capsys) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(TABLE)
    with Stubber(client) as stubber:
        _expect(stubber, "AmazonEC2", {"usagetype": "USE1-NatGateway-Hours"}, "us-east-1", _product("0.045", "0.05"))
        _expect(stubber, "AmazonRDS", {"instanceType": "db.m7g.large", "databaseEngine": "PostgreSQL"}, "us-east-1")
        assert prices.main([], client=client, path=path) == 0
    table = yaml.safe_load(path.read_text())
    assert table["prices"]["nat.hour"]["price"] == 0.045
    err = capsys.readouterr().err
    assert "kept the old price of nat.hour: its query found 2 distinct prices (0.045, 0.05)" in err
    assert "kept the old price of rds.db.m7g.large: its query found 0 distinct prices (none)" in err


def test_an_api_error_leaves_the_table_unchanged(client, tmp_path, capsys) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(TABLE)
    with Stubber(client) as stubber:
        stubber.add_client_error("get_products", "AccessDeniedException", "not allowed to call pricing:GetProducts")
        assert prices.main([], client=client, path=path) == 1
    assert path.read_text() == TABLE
    assert "not allowed to call pricing:GetProducts" in capsys.readouterr().err


def test_without_credentials_it_says_what_to_set(tmp_path, monkeypatch, capsys) -> None:
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = tmp_path / "prices.yaml"
    path.write_text(TABLE)
    assert prices.main([], path=path) == 1
    assert "make prices needs AWS credentials" in capsys.readouterr().err
    assert path.read_text() == TABLE


def test_an_unknown_region_is_refused_with_the_known_ones(client) -> None:
    with pytest.raises(prices.RefreshError, match="region 'mars-1' has no usage-type prefix here; known: eu-"):
        prices.refresh(yaml.safe_load(TABLE)["prices"], client, "mars-1")


def test_every_price_in_the_repo_has_a_unit_a_source_and_a_valid_query(client) -> None:
    table = yaml.safe_load(PRICES_FILE.read_text())
    assert table["region"] and table["date"]
    for key, entry in table["prices"].items():
        assert entry["price"] > 0 and entry["unit"], key
        assert entry["source"].startswith("https://aws.amazon.com/"), key
    # every query is a valid GetProducts call (the Stubber validates the parameters against the model)
    with Stubber(client) as stubber:
        for entry in table["prices"].values():
            filters = prices._filters(entry["query"], table["region"])
            stubber.add_response(
                "get_products",
                {"PriceList": [_product(str(entry["price"]))]},
                {"ServiceCode": entry["query"]["service"], "Filters": filters, "FormatVersion": "aws_v1"},
            )
        refreshed = prices.refresh(table["prices"], client, table["region"])
    assert refreshed.missed == {}
    assert refreshed.prices == {key: entry["price"] for key, entry in table["prices"].items()}
