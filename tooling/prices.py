"""`make prices [REGION=<region>]`: refresh capacity/prices.yaml from the AWS Price List API.

Each entry of the table names its query (ServiceCode and attribute filters); this asks the Price List API
(boto3 `pricing`, served from us-east-1 whatever region is priced) for it, takes the on-demand USD price of
the first tier, and rewrites only the numbers, the region and the date in the file, keeping its comments.
An entry whose query does not find exactly one price keeps its old price and is reported by name.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import yaml

from tooling.cost import PRICES_FILE

PRICING_ENDPOINT_REGION = "us-east-1"  # the Price List API's endpoints: us-east-1, eu-central-1, ap-south-1
# The region prefix of usage types (the table's queries are written with us-east-1's "USE1-").
# https://docs.aws.amazon.com/cur/latest/userguide/product-columns.html (lineItem/UsageType)
USAGE_PREFIX = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-2": "USW2",
    "eu-west-1": "EU",
    "eu-central-1": "EUC1",
}


class RefreshError(Exception):
    pass


@dataclass(frozen=True)
class Refreshed:
    prices: dict[str, float]
    missed: dict[str, str]  # key -> why it kept its old price


def _filters(query: dict[str, Any], region: str) -> list[dict[str, str]]:
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    for field, value in query.get("filters", {}).items():
        value = str(value)
        if field == "usagetype" and value.startswith("USE1-"):
            value = f"{USAGE_PREFIX[region]}-{value[len('USE1-') :]}"
        filters.append({"Type": "TERM_MATCH", "Field": field, "Value": value})
    return filters


def _on_demand_usd(product: dict[str, Any]) -> set[float]:
    """The first tier's USD price of each on-demand offer of a product (tiers starting above 0 are skipped)."""
    found = set()
    for offer in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in offer.get("priceDimensions", {}).values():
            if str(dimension.get("beginRange", "0")) in ("0", "0.0") and "USD" in dimension.get("pricePerUnit", {}):
                found.add(float(dimension["pricePerUnit"]["USD"]))
    return found


def price_of(client: Any, query: dict[str, Any], region: str) -> float:
    prices: set[float] = set()
    pages = client.get_paginator("get_products").paginate(
        ServiceCode=query["service"], Filters=_filters(query, region), FormatVersion="aws_v1"
    )
    for page in pages:
        for item in page["PriceList"]:
            prices |= _on_demand_usd(json.loads(item))
    prices.discard(0.0)  # free tiers and placeholders
    if len(prices) != 1:
        raise RefreshError(f"{len(prices)} distinct prices ({', '.join(f'{p:g}' for p in sorted(prices)) or 'none'})")
    return prices.pop()


def refresh(entries: dict[str, dict[str, Any]], client: Any, region: str) -> Refreshed:
    if region not in USAGE_PREFIX:
        raise RefreshError(f"region {region!r} has no usage-type prefix here; known: {', '.join(sorted(USAGE_PREFIX))}")
    prices, missed = {}, {}
    for key, entry in entries.items():
        try:
            prices[key] = price_of(client, entry["query"], region)
        except RefreshError as exc:
            missed[key] = str(exc)
    return Refreshed(prices, missed)


def rewrite(text: str, refreshed: Refreshed, region: str, today: str) -> str:
    """The table's text with new prices, region and date; comments and layout unchanged."""
    for key, price in refreshed.prices.items():
        text, found = re.subn(rf"(?m)^(  {re.escape(key)}:\n    price: )\S+", rf"\g<1>{price:g}", text)
        if not found:
            raise RefreshError(f"{key}: no `price:` line right under it in the table")
    text = re.sub(r"(?m)^region: .*$", f"region: {region}", text)
    text = re.sub(r"(?m)^date: .*$", f'date: "{today}"', text)
    return re.sub(r"(?m)^refreshed_by: .*$", "refreshed_by: make prices (AWS Price List API)", text)


def main(argv: list[str] | None = None, client: Any = None, path: Path = PRICES_FILE) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default=None, help="region to price (default: the table's)")
    args = parser.parse_args(argv)
    text = path.read_text()
    table = yaml.safe_load(text)
    region = args.region or table["region"]
    if client is None:
        session = boto3.Session()
        try:
            credentials = session.get_credentials()
        except botocore.exceptions.BotoCoreError:  # a configured provider that fails (e.g. no container role)
            credentials = None
        if credentials is None:
            print(
                "make prices needs AWS credentials (the Price List API is not anonymous): set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`. "
                f"{path.name} is unchanged.",
                file=sys.stderr,
            )
            return 1
        client = session.client("pricing", region_name=PRICING_ENDPOINT_REGION)
    try:
        refreshed = refresh(table["prices"], client, region)
        path.write_text(rewrite(text, refreshed, region, datetime.now(UTC).date().isoformat()))
    except (RefreshError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"make prices failed: {exc}; {path.name} is unchanged", file=sys.stderr)
        return 1
    print(f"{path.name}: {len(refreshed.prices)} prices refreshed for {region}")
    for key, why in refreshed.missed.items():
        print(f"  kept the old price of {key}: its query found {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
