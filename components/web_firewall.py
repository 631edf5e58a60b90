"""WebFirewall: a regional WAFv2 web ACL on the ALB: a rate limit per buyer (per bearer token), a far
higher one per IP, and the AWS managed common rule set where the stack asks for it (prod).

A per-IP limit alone blocks buyers who share one address: a carrier-grade NAT or an office puts
thousands of them behind a single IP at the moment a sale opens. WAF counts each Authorization header
value instead (a rate-based rule with a custom key; requests without it are not counted by that rule),
and keeps a per-IP ceiling for clients that rotate tokens or send none.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# The buyer's credential (app/reservation/http/auth.py: Authorization: Bearer <JWT>); WAF matches header
# names case-insensitively.
TOKEN_HEADER = "authorization"
RATE_WINDOW_SECONDS = 300  # one of WAF's evaluation windows (60, 120, 300, 600): the limits are per 5 minutes


@dataclass(frozen=True)
class WebFirewallArgs:
    load_balancer_arn: pulumi.Input[str]
    """The ALB the web ACL protects. Required."""
    rate_limit_per_5min: int = 3000
    """Requests per buyer (bearer token) per 5 minutes before WAF blocks it. Default 3000."""
    ip_rate_limit_per_5min: int = 100000
    """Requests per client IP per 5 minutes, which many buyers may share. Default 100000."""
    managed_common_rules: bool = True
    """The AWS managed common rule set. Default True."""


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _rate_rule(rule: str, priority: int, limit: int, metric: str, custom_keys: list | None) -> aws.wafv2.WebAclRuleArgs:
    """Block a key (the custom keys, or the client IP) above `limit` requests in 5 minutes."""
    return aws.wafv2.WebAclRuleArgs(
        name=rule,
        priority=priority,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="CUSTOM_KEYS" if custom_keys else "IP",
                custom_keys=custom_keys,
                limit=limit,
                evaluation_window_sec=RATE_WINDOW_SECONDS,
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
            _rate_rule("rate-limit-per-buyer", 0, args.rate_limit_per_5min, f"{name}-rate-limit", [by_token]),
            _rate_rule("rate-limit-per-ip", 1, args.ip_rate_limit_per_5min, f"{name}-ip-rate-limit", None),
        ]
        if args.managed_common_rules:
            rules.append(
                aws.wafv2.WebAclRuleArgs(
                    name="aws-common-rule-set",
                    priority=2,
                    override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                        none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                            vendor_name="AWS", name="AWSManagedRulesCommonRuleSet"
                        )
                    ),
                    visibility_config=_visibility(f"{name}-common-rules"),
                )
            )
        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules,
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=f"{name}-acl", sampled_requests_enabled=True
            ),
            opts=child,
        )
        aws.wafv2.WebAclAssociation(f"{name}-alb", resource_arn=args.load_balancer_arn, web_acl_arn=acl.arn, opts=child)
        self.web_acl_arn = acl.arn
        self.register_outputs({"webAclArn": self.web_acl_arn})
