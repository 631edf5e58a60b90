"""ServiceImage: the ECR repository and the reservation image built from ./app.

Tags are immutable, so each build is tagged by its content: a hash of the build context Docker would
send (honouring .dockerignore). A changed tree gets a new tag (a new push, never a refused overwrite);
an unchanged tree keeps its tag and nothing is rebuilt. The task definitions reference the image by
digest (awsx.ecr.Image's imageUri is `<repositoryUrl>@<digest>`: pulumi/pulumi-awsx awsx/ecr/image.ts,
computeImageFromAsset), so a `pulumi up` rolls a deployment only when the image content really changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
from docker.utils.build import exclude_paths


@dataclass(frozen=True)
class ServiceImageArgs:
    platform: str = "linux/amd64"
    """The image's platform (linux/amd64 or linux/arm64). Default linux/amd64."""
    keep_last: int = 20
    """Images the repository keeps; older ones expire. Default 20."""
    force_delete: bool = False
    """Let `pulumi destroy` delete the repository with its images (dev stacks go in one destroy). Default False."""
    context: str = "./app"
    """The build context. Default ./app."""
    dockerfile: str = "./app/Dockerfile"
    """The Dockerfile. Default ./app/Dockerfile."""


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
                            "description": f"keep the last {args.keep_last} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": args.keep_last,
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
            platform=args.platform,
            image_tag=context_tag(args.context, args.dockerfile, args.platform),
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.image_uri = image.image_uri
        self.register_outputs(
            {"repositoryUrl": self.repository_url, "repositoryArn": self.repository_arn, "imageUri": self.image_uri}
        )


def context_tag(context: str, dockerfile: str, platform: str) -> str:
    """The image tag for this build: a hash of what `docker build` would be sent, and of how it builds.

    Stable across machines and checkouts: sorted relative paths, file bytes and the exec bit (not
    mtimes, owners or other mode bits, which a clone does not preserve). The platform is part of it,
    so an arm64 build never tries to reuse an amd64 build's (immutable) tag."""
    root = Path(context)
    if not root.is_dir():
        raise ValueError(f"image build context {context!r} is not a directory (expected the service's app/ folder)")
    relative_dockerfile = os.path.relpath(dockerfile, context)
    ignore_file = root / ".dockerignore"
    patterns = ignore_file.read_text().splitlines() if ignore_file.is_file() else []
    patterns = [p.strip() for p in patterns if p.strip() and not p.lstrip().startswith("#")]
    digest = hashlib.sha256(f"platform={platform}\0dockerfile={relative_dockerfile}\0".encode())
    for relative in sorted(exclude_paths(str(root), patterns, relative_dockerfile)):
        digest.update(_entry_fingerprint(root, relative))
    return f"ctx-{digest.hexdigest()}"


def _entry_fingerprint(root: Path, relative: str) -> bytes:
    path = root / relative
    info = path.lstat()
    name = relative.replace(os.sep, "/").encode()
    if stat.S_ISLNK(info.st_mode):
        return b"L\0" + name + b"\0" + os.readlink(path).encode() + b"\0"
    if stat.S_ISDIR(info.st_mode):
        return b"D\0" + name + b"\0"
    executable = b"x" if info.st_mode & 0o111 else b"-"
    content = hashlib.sha256(path.read_bytes()).hexdigest().encode()
    return b"F\0" + name + b"\0" + executable + b"\0" + content + b"\0"
