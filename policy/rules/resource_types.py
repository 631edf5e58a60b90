"""Resource type tokens the rules match on (pulumi-aws 7.x; aws:alb/* are aliases of aws:lb/* and
appear in older code), and the groups of types several rules share."""

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PROXY = "aws:rds/proxy:Proxy"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_PLAN = "aws:backup/plan:Plan"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK = "aws:msk/cluster:Cluster"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
CERTIFICATES = ("aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation")
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ECR_REPOSITORIES = ("aws:ecr/repository:Repository", "awsx:ecr:Repository")
SCALING_TARGET = "aws:appautoscaling/target:Target"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AWSX_VPC = "awsx:ec2:Vpc"

DATA_STORES = (RDS_INSTANCE, RDS_CLUSTER, REDIS, MSK, KMS_KEY, SECRET)

# Types the required-tags rule checks. An allowlist, because several AWS types take no tags at all
# (rolePolicy, listener rules' attachments, msk configuration, ...) and would be false positives.
TAGGABLE = frozenset(
    {
        RDS_INSTANCE,
        RDS_CLUSTER,
        RDS_CLUSTER_INSTANCE,
        RDS_PROXY,
        REDIS,
        MSK,
        KMS_KEY,
        SECRET,
        SECURITY_GROUP,
        SG_INGRESS,
        ECS_SERVICE,
        TASK_DEFINITION,
        *LOAD_BALANCERS,
        *LISTENERS,
        LOG_GROUP,
        "aws:ecr/repository:Repository",
        SCALING_TARGET,
        IAM_ROLE,
        IAM_POLICY,
        "aws:ecs/cluster:Cluster",
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/listenerRule:ListenerRule",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:elasticache/parameterGroup:ParameterGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:sns/topic:Topic",
        "aws:wafv2/webAcl:WebAcl",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
    }
)
