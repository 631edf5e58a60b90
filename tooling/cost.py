"""`make cost STACK=<name>`: a monthly estimate per resource, and the extra of each sale window.

Applies the price table (capacity/prices.yaml: region, date, a source per price) to what the program
registers for the stack under mocks (tooling/mock_runtime.py, the record `make plan` prints): instance
classes, node types, brokers, NAT gateways, the ALB, Fargate vCPU and GB hours, storage, KMS keys, WAF,
interface endpoints, alarms and logs. Traffic-driven usage the program does not register (LCUs, NAT and
log gigabytes, WAF requests) comes from the table's stated `usage` assumptions.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackconfig import ConfigError, StackConfig
from tooling.capacity import load_stack_config
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import ROOT, StackNotFound

PRICES_FILE = ROOT / "capacity" / "prices.yaml"
SPOT, ON_DEMAND = "FARGATE_SPOT", "FARGATE"


class PriceError(Exception):
    pass


@dataclass(frozen=True)
class PriceTable:
    region: str
    date: str
    hours_per_month: float
    entries: dict[str, dict[str, Any]]
    usage: dict[str, dict[str, float]]

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        data = yaml.safe_load(path.read_text())
        return cls(str(data["region"]), str(data["date"]), float(data["hours_per_month"]), data["prices"],
                   data.get("usage") or {})  # fmt: skip

    def __call__(self, key: str) -> float:
        if key not in self.entries:
            raise PriceError(f"capacity/prices.yaml has no price {key!r}: add it (price, unit, source, query)")
        return float(self.entries[key]["price"])

    def attribute(self, key: str, name: str) -> Any:
        self(key)
        if name not in self.entries[key]:
            raise PriceError(f"capacity/prices.yaml: {key} lacks {name!r}")
        return self.entries[key][name]

    def assumed(self, environment: str, name: str) -> float:
        usage = self.usage.get(environment) or self.usage.get("prod") or {}
        if name not in usage:
            raise PriceError(f"capacity/prices.yaml: usage.{environment} lacks {name!r}")
        return float(usage[name])


@dataclass(frozen=True)
class Line:
    resource: str
    item: str
    monthly: float


@dataclass(frozen=True)
class Estimate:
    lines: list[Line]
    windows: list[Line]  # the extra of each sale window, per occurrence

    @property
    def monthly(self) -> float:
        return sum(line.monthly for line in self.lines)


def split_tasks(count: float, strategy: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Tasks per capacity provider as ECS places them: each provider's `base` first, the rest by weight."""
    strategy = list(strategy)
    placed = {s["capacityProvider"]: 0.0 for s in strategy}
    left = count
    for s in strategy:
        base = min(left, float(s.get("base") or 0))
        placed[s["capacityProvider"]] += base
        left -= base
    weights = {s["capacityProvider"]: float(s.get("weight") or 0) for s in strategy}
    total = sum(weights.values())
    if left > 0 and total <= 0:
        raise PriceError("a capacity provider strategy with tasks beyond its bases has no weight")
    for provider, weight in weights.items():
        if left > 0:
            placed[provider] += left * weight / total
    return placed


class _Pricer:
    """Turns the recorded resources of one run into cost lines."""

    def __init__(self, run: ProgramRun, cfg: StackConfig, prices: PriceTable) -> None:
        self.run, self.cfg, self.p = run, cfg, prices
        self.hours = prices.hours_per_month

    def assumed(self, name: str) -> float:
        return self.p.assumed(self.cfg.environment, name)

    # -- compute
    def task_definition(self, service: RecordedResource) -> RecordedResource:
        family = str(service.inputs["taskDefinition"]).rsplit("/", 1)[-1].rsplit(":", 1)[0]
        return next(
            t for t in self.run.of_type("aws:ecs/taskDefinition:TaskDefinition") if t.inputs["family"] == family
        )

    def strategy(self, service: RecordedResource) -> list[dict[str, Any]]:
        if service.inputs.get("capacityProviderStrategies"):
            return service.inputs["capacityProviderStrategies"]
        clusters = self.run.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
        return (
            clusters[0].inputs["defaultCapacityProviderStrategies"] if clusters else [{"capacityProvider": ON_DEMAND}]
        )

    def task_hour(self, task: RecordedResource, provider: str) -> float:
        arch = task.inputs.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64").lower()
        vcpu, gb = float(task.inputs["cpu"]) / 1024, float(task.inputs["memory"]) / 1024
        kind = "fargate_spot" if provider == SPOT else "fargate"
        return vcpu * self.p(f"{kind}.{arch}.vcpu_hour") + gb * self.p(f"{kind}.{arch}.gb_hour")

    def tasks_cost(self, service: RecordedResource, count: float, hours: float) -> tuple[float, str]:
        task = self.task_definition(service)
        cost, parts = 0.0, []
        # No ARM64 task reaches Spot: the configuration refuses that pairing (Fargate Spot runs X86_64 only).
        for provider, tasks in split_tasks(count, self.strategy(service)).items():
            if not tasks:
                continue
            cost += tasks * hours * self.task_hour(task, provider)
            parts.append(f"{tasks:g} on {provider}")
        return cost, ", ".join(parts)

    def services(self) -> list[Line]:
        out = []
        for service in self.run.of_type("aws:ecs/service:Service"):
            task = self.task_definition(service)
            count = float(service.inputs.get("desiredCount") or 0)
            cost, where = self.tasks_cost(service, count, self.hours)
            arch = task.inputs.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64")
            item = f"{count:g} tasks x {task.inputs['cpu']} CPU / {task.inputs['memory']} MiB {arch} ({where})"
            out.append(Line(service.name, item, cost))
        return out

    def sale_windows(self) -> list[Line]:
        out = []
        services = {s.inputs.get("name"): s for s in self.run.of_type("aws:ecs/service:Service")}
        for window in self.cfg.sale_windows:
            hours = (window.end - window.start).total_seconds() / 3600 + window.lead_minutes / 60
            for name in window.services or tuple(s.name for s in self.cfg.web_services):
                service = services[name]
                floor = float(service.inputs.get("desiredCount") or 0)
                raised_to = self.cfg.window_floor(window, name)
                extra = max(0.0, raised_to - floor)
                raised, _ = self.tasks_cost(service, raised_to, hours)
                base, _ = self.tasks_cost(service, floor, hours)
                item = f"{extra:g} tasks above the floor of {floor:g} for {hours:.1f} h (lead included)"
                out.append(Line(f"{window.name} / {name}", item, raised - base))
        return out

    # -- data
    def databases(self) -> list[Line]:
        out = []
        for db in self.run.of_type("aws:rds/instance:Instance"):
            cls, copies = db.inputs["instanceClass"], 2 if db.inputs.get("multiAz") else 1
            storage = float(db.inputs.get("allocatedStorage") or 0)
            az = "Multi-AZ" if copies == 2 else "Single-AZ"
            out.append(Line(db.name, f"{cls} {az}", copies * self.hours * self.p(f"rds.{cls}")))
            out.append(Line(db.name, f"{storage:g} GB gp3 {az}", copies * storage * self.p("rds.gp3_gb_month")))
            if db.inputs.get("manageMasterUserPassword"):
                out.append(Line(db.name, "master password secret (RDS-managed)", self.p("secretsmanager.secret_month")))
        for proxy in self.run.of_type("aws:rds/proxy:Proxy"):
            classes = [db.inputs["instanceClass"] for db in self.run.of_type("aws:rds/instance:Instance")]
            vcpus = max(2, sum(int(self.p.attribute(f"rds.{c}", "vcpus")) for c in classes))
            out.append(
                Line(proxy.name, f"RDS Proxy over {vcpus} vCPU", vcpus * self.hours * self.p("rds.proxy_vcpu_hour"))
            )
        for instance in self.run.of_type("aws:rds/clusterInstance:ClusterInstance"):
            acu = self.cfg.database.aurora_min_acu
            out.append(Line(instance.name, f"Aurora Serverless v2 at its floor of {acu:g} ACU",
                            acu * self.hours * self.p("rds.aurora_acu_hour")))  # fmt: skip
        for cluster in self.run.of_type("aws:rds/cluster:Cluster"):
            gb = self.cfg.database.allocated_storage_gb
            out.append(Line(cluster.name, f"{gb:g} GB Aurora storage (assumed)", gb * self.p("rds.aurora_gb_month")))
        return out

    def caches(self) -> list[Line]:
        out = []
        for group in self.run.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
            i = group.inputs
            nodes = (
                float(i["numNodeGroups"]) * (1 + float(i.get("replicasPerNodeGroup") or 0))
                if i.get("numNodeGroups")
                else float(i.get("numCacheClusters") or 1)
            )
            engine, node = i["engine"], i["nodeType"]  # priced per engine: Valkey's nodes cost less
            item = f"{nodes:g} x {node} ({engine})"
            out.append(Line(group.name, item, nodes * self.hours * self.p(f"elasticache.{engine}.{node}")))
        return out

    def kafka(self) -> list[Line]:
        out = []
        for cluster in self.run.of_type("aws:msk/cluster:Cluster"):
            info = cluster.inputs["brokerNodeGroupInfo"]
            brokers, broker = float(cluster.inputs["numberOfBrokerNodes"]), info["instanceType"]
            gb = float(info["storageInfo"]["ebsStorageInfo"]["volumeSize"])
            out.append(Line(cluster.name, f"{brokers:g} x {broker}", brokers * self.hours * self.p(f"msk.{broker}")))
            out.append(
                Line(cluster.name, f"{brokers:g} x {gb:g} GB storage", brokers * gb * self.p("msk.storage_gb_month"))
            )
        return out

    # -- network and edge
    def network(self) -> list[Line]:
        out = []
        for vpc in self.run.of_type("awsx:ec2:Vpc"):
            strategy = (vpc.inputs.get("natGateways") or {}).get("strategy", "None")
            nats = {"Single": 1.0, "OnePerAz": float(vpc.inputs["numberOfAvailabilityZones"])}.get(strategy, 0.0)
            if nats:
                gb = self.assumed("nat_gb_per_month")
                hourly = self.p("nat.hour") + self.p("public_ipv4.hour")  # each NAT gateway holds an Elastic IP
                out.append(
                    Line(vpc.name, f"{nats:g} NAT gateway(s) with their public IPv4", nats * self.hours * hourly)
                )
                out.append(Line(vpc.name, f"NAT data processed, {gb:g} GB (assumed)", gb * self.p("nat.gb")))
        for endpoint in self.run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
            if endpoint.inputs.get("vpcEndpointType") == "Interface":
                azs = len(endpoint.inputs.get("subnetIds") or [])
                item = f"interface endpoint {endpoint.inputs['serviceName']} in {azs} AZs"
                out.append(Line(endpoint.name, item, azs * self.hours * self.p("vpc_endpoint.hour")))
        for alb in self.run.of_type("aws:lb/loadBalancer:LoadBalancer"):
            azs = len(alb.inputs.get("subnets") or [])
            lcu = self.assumed("lcu_average")
            hourly = self.p("alb.hour") + lcu * self.p("alb.lcu_hour") + azs * self.p("public_ipv4.hour")
            out.append(Line(alb.name, f"ALB, {lcu:g} LCU on average (assumed), {azs} public IPv4", self.hours * hourly))
        for acl in self.run.of_type("aws:wafv2/webAcl:WebAcl"):
            rules = len(acl.inputs.get("rules") or [])
            requests = self.assumed("waf_million_requests_per_month")
            cost = (
                self.p("waf.web_acl_month")
                + rules * self.p("waf.rule_month")
                + requests * self.p("waf.million_requests")
            )
            out.append(Line(acl.name, f"web ACL, {rules} rules, {requests:g}M requests (assumed)", cost))
        return out

    # -- per-unit resources
    def per_unit(self) -> list[Line]:
        out = []
        counted: Counter[str] = Counter(r.type for r in self.run.resources)
        units = {
            "aws:kms/key:Key": ("customer managed KMS keys", "kms.key_month"),
            "aws:secretsmanager/secret:Secret": ("secrets", "secretsmanager.secret_month"),
            "aws:cloudwatch/metricAlarm:MetricAlarm": ("alarms", "cloudwatch.alarm_month"),
        }
        for type_, (what, key) in units.items():
            if counted[type_]:
                out.append(
                    Line(type_.split(":")[1].split("/")[0], f"{counted[type_]} {what}", counted[type_] * self.p(key))
                )
        gb = self.assumed("logs_gb_per_month_per_group")
        for group in self.run.of_type("aws:cloudwatch/logGroup:LogGroup"):
            months = float(group.inputs.get("retentionInDays") or 30) / 30
            cost = gb * self.p("cloudwatch.logs_ingested_gb") + gb * months * self.p("cloudwatch.logs_stored_gb_month")
            out.append(Line(group.name, f"{gb:g} GB/month logged (assumed), kept {months:.1f} months", cost))
        return out

    def estimate(self) -> Estimate:
        parts: list[Callable[[], list[Line]]] = [
            self.services, self.databases, self.caches, self.kafka, self.network, self.per_unit,
        ]  # fmt: skip
        lines = [line for part in parts for line in part()]
        return Estimate(lines, self.sale_windows())


def estimate(run: ProgramRun, cfg: StackConfig, prices: PriceTable) -> Estimate:
    return _Pricer(run, cfg, prices).estimate()


def render(cfg: StackConfig, prices: PriceTable, result: Estimate) -> str:
    lines = [
        f"Stack {cfg.stack} (deploys to {cfg.region}): monthly estimate at {prices.region} prices of {prices.date} "
        f"(capacity/prices.yaml), {prices.hours_per_month:g} h a month",
        "",
        "| resource | what | USD/month |",
        "| --- | --- | ---: |",
    ]
    for line in sorted(result.lines, key=lambda x: -x.monthly):
        lines.append(f"| {line.resource} | {line.item} | {line.monthly:,.2f} |")
    lines.append(f"| **total** | | **{result.monthly:,.2f}** |")
    if result.windows:
        lines += ["", "Sale windows (extra per occurrence, on top of the monthly total):"]
        lines += [f"- {w.resource}: {w.item}: {w.monthly:,.2f} USD" for w in result.windows]
    if prices.region != cfg.region:
        lines += ["", f"Note: prices are {prices.region}'s; {cfg.region} differs by a few percent "
                      f"(`make prices REGION={cfg.region}` to price it exactly)."]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    try:
        cfg = load_stack_config(args.stack)
        prices = PriceTable.load()
        print(render(cfg, prices, estimate(run_program(args.stack), cfg, prices)))
    except (ConfigError, StackNotFound, PriceError) as err:
        print(f"cost for stack {args.stack} failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
