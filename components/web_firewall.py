"""WebFirewall: a regional WAFv2 web ACL on the ALB: a per-IP rate limit, and the AWS managed
common rule set where the stack asks for it (prod)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import WafConfig


@dataclass(frozen=True)
class WebFirewallArgs:
    config: WafConfig
    load_balancer_arn: pulumi.Input[str]


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


class WebFirewall(pulumi.ComponentResource):
    web_acl_arn: pulumi.Output[str]

    def __init__(self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:edge:WebFirewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rules = [
            aws.wafv2.WebAclRuleArgs(
                name="rate-limit-per-ip",
                priority=0,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                        aggregate_key_type="IP", limit=args.config.rate_limit_per_5min, evaluation_window_sec=300
                    )
                ),
                visibility_config=_visibility(f"{name}-rate-limit"),
            )
        ]
        if args.config.managed_common_rules:
            rules.append(
                aws.wafv2.WebAclRuleArgs(
                    name="aws-common-rule-set",
                    priority=1,
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
