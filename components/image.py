"""ServiceImage: the ECR repository and the reservation image built from ./app.

Tags are immutable and the task definitions reference the image by digest (repo@sha256:...), so a
`pulumi up` rolls a deployment only when the image content really changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from components.config import ImageConfig


@dataclass(frozen=True)
class ServiceImageArgs:
    config: ImageConfig
    force_delete: bool  # only where data is not protected: dev stacks go in one destroy
    context: str = "./app"
    dockerfile: str = "./app/Dockerfile"


class ServiceImage(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    image_uri: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:image:ServiceImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repository = aws.ecr.Repository(
            f"{name}-repo",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
            force_delete=args.force_delete,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"keep the last {args.config.keep_last} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": args.config.keep_last,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child,
        )
        image = awsx.ecr.Image(
            f"{name}-image",
            repository_url=repository.repository_url,
            context=args.context,
            dockerfile=args.dockerfile,
            platform=args.config.platform,
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.image_uri = image.image_uri
        self.register_outputs(
            {"repositoryUrl": self.repository_url, "repositoryArn": self.repository_arn, "imageUri": self.image_uri}
        )
