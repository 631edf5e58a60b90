"""WebFirewall: a regional WAFv2 web ACL on the ALB: a rate limit per buyer on reservation attempts,
a far higher one per IP on everything, a strict one per IP on the admin paths, and the AWS managed
common rule set where the stack asks for it (prod).

A per-IP limit alone blocks buyers who share one address: a carrier-grade NAT or an office puts
thousands of them behind a single IP at the moment a sale opens. WAF counts each Authorization header
value instead (a rate-based rule with a custom key; requests without it are not counted by that rule),
and only reservation attempts (POST /sales/{id}/reservations): a buyer polling availability spends
nothing of it. A per-IP ceiling stays on everything for clients that rotate tokens or send none.

WAF acts on rates it aggregates over its window, tens of seconds late: it keeps bots off the ALB; a limit
that holds within a sale's first second is the service's: a token bucket per buyer per sale in the Redis
gate's script (app/reservation/gate/lua/reserve.lua), refused with 429 `too_many_attempts`. Every WAF
block answers 429 in the API's error shape ({"error": "too_many_attempts", "detail": ...}, as
app/reservation/http/errors.py writes it) with Retry-After, so clients treat a WAF refusal and the
service's alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementAndStatementArgs as _And,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementArgs as _Scope,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementArgs as _Byte,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchArgs as _ByteField,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchMethodArgs as _Method,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchUriPathArgs as _ByteUri,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementTextTransformationArgs as _ByteText,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementArgs as _Regex,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementFieldToMatchArgs as _RegexField,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementFieldToMatchUriPathArgs as _RegexUri,
)
from pulumi_aws.wafv2 import (
    WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementTextTransformationArgs as _RegexText,
)
from reservation.shared.cloudwatch_metrics import RESERVATION_ROUTE

# The buyer's credential (app/reservation/http/auth.py: Authorization: Bearer <JWT>); WAF matches header
# names case-insensitively.
TOKEN_HEADER = "authorization"
RATE_WINDOW_SECONDS = 300  # one of WAF's evaluation windows (60, 120, 300, 600): the limits are per 5 minutes
ADMIN_PREFIX = "/admin/"
TOO_MANY_ATTEMPTS = "too-many-attempts"  # the web ACL's custom response body key
TOO_MANY_ATTEMPTS_BODY = json.dumps(
    {"error": "too_many_attempts", "detail": "too many requests from this client; retry after Retry-After seconds"},
    separators=(",", ":"),
)
# A rate-based rule blocks while the key's count over the window exceeds the limit: after a whole window
# without requests the count is zero, so this wait always suffices (a shorter one often does).
RETRY_AFTER_SECONDS = RATE_WINDOW_SECONDS


def route_pattern(route: str) -> str:
    """The Starlette route as an anchored regex over the URI path: `{x:int}` is digits, `{x}` one segment."""
    pattern = re.sub(r"\{[^}:]+:int\}", "[0-9]+", route)
    return "^" + re.sub(r"\{[^}]+\}", "[^/]+", pattern) + "$"


RESERVATION_PATH_PATTERN = route_pattern(RESERVATION_ROUTE)  # ^/sales/[0-9]+/reservations$


@dataclass(frozen=True)
class WebFirewallArgs:
    load_balancer_arn: pulumi.Input[str]
    """The ALB the web ACL protects. Required."""
    rate_limit_per_5min: int = 3000
    """Reservation attempts per buyer (bearer token) per 5 minutes before WAF blocks it. Default 3000."""
    ip_rate_limit_per_5min: int = 100000
    """Requests per client IP per 5 minutes, on every path; many buyers may share an IP. Default 100000."""
    admin_rate_limit_per_5min: int = 100
    """Requests per client IP per 5 minutes on the admin paths (/admin/...). Default 100."""
    managed_common_rules: bool = True
    """The AWS managed common rule set (missing User-Agent counted, not blocked). Default True."""


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _block_429() -> aws.wafv2.WebAclRuleActionArgs:
    """Block with 429, the JSON error body and Retry-After. WAF sends a custom response's headers under the
    names given (it prefixes x-amzn-waf- only to headers it inserts into requests it lets through;
    docs.aws.amazon.com/waf/latest/developerguide/customizing-the-response-for-blocked-requests.html and the
    CustomHTTPHeader reference)."""
    return aws.wafv2.WebAclRuleActionArgs(
        block=aws.wafv2.WebAclRuleActionBlockArgs(
            custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
                response_code=429,
                custom_response_body_key=TOO_MANY_ATTEMPTS,
                response_headers=[
                    aws.wafv2.WebAclRuleActionBlockCustomResponseResponseHeaderArgs(
                        name="Retry-After", value=str(RETRY_AFTER_SECONDS)
                    )
                ],
            )
        )
    )


def _uri_starts_with(prefix: str) -> _Scope:
    # URL_DECODE first: the service routes on the decoded path, so /%61dmin/ must count as /admin/.
    return _Scope(
        byte_match_statement=_Byte(
            field_to_match=_ByteField(uri_path=_ByteUri()),
            positional_constraint="STARTS_WITH",
            search_string=prefix,
            text_transformations=[_ByteText(priority=0, type="URL_DECODE")],
        )
    )


def _reservation_attempts() -> _Scope:
    """POST on the reservation route: the requests a buyer's limit counts."""
    method = _Scope(
        byte_match_statement=_Byte(
            field_to_match=_ByteField(method=_Method()),
            positional_constraint="EXACTLY",
            search_string="POST",
            text_transformations=[_ByteText(priority=0, type="NONE")],
        )
    )
    path = _Scope(
        regex_match_statement=_Regex(
            field_to_match=_RegexField(uri_path=_RegexUri()),
            regex_string=RESERVATION_PATH_PATTERN,
            text_transformations=[_RegexText(priority=0, type="URL_DECODE")],
        )
    )
    return _Scope(and_statement=_And(statements=[method, path]))


def _rate_rule(
    rule: str, priority: int, limit: int, metric: str, *, custom_keys: list | None = None, scope: _Scope | None = None
) -> aws.wafv2.WebAclRuleArgs:
    """Block a key (the custom keys, or the client IP) above `limit` requests in 5 minutes, counting only
    the requests `scope` matches (None: all)."""
    return aws.wafv2.WebAclRuleArgs(
        name=rule,
        priority=priority,
        action=_block_429(),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="CUSTOM_KEYS" if custom_keys else "IP",
                custom_keys=custom_keys,
                limit=limit,
                evaluation_window_sec=RATE_WINDOW_SECONDS,
                scope_down_statement=scope,
            )
        ),
        visibility_config=_visibility(metric),
    )


def _common_rule_set(priority: int, metric: str) -> aws.wafv2.WebAclRuleArgs:
    """AWSManagedRulesCommonRuleSet, the core rule set
    (docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html).

    NoUserAgent_HEADER blocks every request without a User-Agent: the API's clients are apps and scripts,
    not only browsers, and some HTTP libraries send none, so it only counts (its label and metric still
    show such traffic). SizeRestrictions_BODY blocks bodies over 8 KB: the API's largest valid body (a new
    sale, app/reservation/domain/bodies.py: a 200-character name, a 100-character sku) stays under 4 KB even
    with every character JSON-escaped, so it stays on; a body between 8 KB and the app's own MAX_BODY
    (16 KiB) gets WAF's 403 instead of the app's 413.
    It also keeps bodies within the 8 KB WAF inspects on an ALB, so the other body rules see them whole."""
    override = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
        name="NoUserAgent_HEADER",
        action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
            count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
        ),
    )
    return aws.wafv2.WebAclRuleArgs(
        name="aws-common-rule-set",
        priority=priority,
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name="AWSManagedRulesCommonRuleSet", rule_action_overrides=[override]
            )
        ),
        visibility_config=_visibility(metric),
    )


class WebFirewall(pulumi.ComponentResource):
    web_acl_arn: pulumi.Output[str]

    def __init__(self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:edge:WebFirewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        by_token = aws.wafv2.WebAclRuleStatementRateBasedStatementCustomKeyArgs(
            header=aws.wafv2.WebAclRuleStatementRateBasedStatementCustomKeyHeaderArgs(
                name=TOKEN_HEADER,
                text_transformations=[
                    aws.wafv2.WebAclRuleStatementRateBasedStatementCustomKeyHeaderTextTransformationArgs(
                        priority=0, type="NONE"
                    )
                ],
            )
        )
        rules = [
            _rate_rule(
                "rate-limit-per-buyer",
                0,
                args.rate_limit_per_5min,
                f"{name}-rate-limit",
                custom_keys=[by_token],
                scope=_reservation_attempts(),
            ),
            _rate_rule("rate-limit-per-ip", 1, args.ip_rate_limit_per_5min, f"{name}-ip-rate-limit"),
            _rate_rule(
                "rate-limit-admin",
                2,
                args.admin_rate_limit_per_5min,
                f"{name}-admin-rate-limit",
                scope=_uri_starts_with(ADMIN_PREFIX),
            ),
        ]
        if args.managed_common_rules:
            rules.append(_common_rule_set(3, f"{name}-common-rules"))
        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules,
            custom_response_bodies=[
                aws.wafv2.WebAclCustomResponseBodyArgs(
                    key=TOO_MANY_ATTEMPTS, content=TOO_MANY_ATTEMPTS_BODY, content_type="APPLICATION_JSON"
                )
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=f"{name}-acl", sampled_requests_enabled=True
            ),
            opts=child,
        )
        aws.wafv2.WebAclAssociation(f"{name}-alb", resource_arn=args.load_balancer_arn, web_acl_arn=acl.arn, opts=child)
        self.web_acl_arn = acl.arn
        self.register_outputs({"webAclArn": self.web_acl_arn})
