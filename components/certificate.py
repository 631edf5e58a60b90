"""DnsCertificate: an ACM certificate for the platform's public name, validated through Route 53.

The listeners take the certificate only once ACM has issued it (CertificateValidation waits), so
the first `pulumi up` of a stack never creates an HTTPS listener with a pending certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class DnsCertificateArgs:
    domain_name: str
    """The name the certificate is issued for. Required."""
    hosted_zone_id: str
    """The Route 53 zone holding it, where the validation record goes. Required."""


class DnsCertificate(pulumi.ComponentResource):
    certificate_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DnsCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:edge:Certificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain_name,
            validation_method="DNS",
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        # One name, so exactly one validation record.
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificateArn": self.certificate_arn})
