#!/usr/bin/env python3
"""Renders template.yaml as the local stack deploys it.

The SAM translator (the one CloudFormation runs) turns the template into plain
CloudFormation; this script then resolves the intrinsic functions the stack uses (Ref,
Fn::GetAtt, Fn::Sub, Fn::If and its conditions, Fn::Join, Fn::Select, Fn::Split) with the
parameter values and physical names the local stack chose, and prints, as JSON:

  {"functions": {"PlanFunction": {"name": "leganto-plan", "timeout": 30, "memory": 256,
                                   "environment": {...}, "role": "PlanFunctionRole",
                                   "policies": [{"name": ..., "document": {...}}],
                                   "managed_policies": [...]}, ...},
   "state_machine": {"definition_uri": "infra/statemachine.asl.json",
                     "substitutions": {...}, "policies": [...]},
   "parameters": {...},
   "buckets": {"Bucket": {"versioning": "Enabled"}},
   "managed_policies": {"OperatorPolicy": {...the policy document...}},
   "schedules": {"StateMachineDaily": {...the schedule's properties...}},
   "stack_name": "leganto-local"}

Usage: render_template.py TEMPLATE --params JSON --physical JSON
  --params    {"AlmaBaseUrl": "http://127.0.0.1:8080", ...}   (others keep their defaults)
  --physical  {"Bucket": "leganto-local", "Secret": "arn:aws:secretsmanager:..."}
              (what `Ref` of a resource gives; functions default to their Binary name)
"""

import argparse
import json
import os
import re
import sys

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACCOUNT = "123456789012"
STACK = "leganto-local"


class Unresolvable(Exception):
    pass


def translate(template):
    """The template as CloudFormation sees it after the AWS::Serverless-2016-10-31 transform."""
    from samtranslator.translator.transform import transform

    # The translator wants packaged code locations; the local stack runs the code itself.
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://local/code"
        if resource["Type"] == "AWS::Serverless::StateMachine":
            props["DefinitionUri"] = "s3://local/definition"

    class NoManagedPolicies:
        def load(self):
            return {}

    return transform(template, {}, NoManagedPolicies())


class Resolver:
    def __init__(self, template, params, physical):
        self.resources = template.get("Resources", {})
        self.params = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in params:
                self.params[name] = str(params[name])
            elif "Default" in spec:
                self.params[name] = str(spec["Default"])
        self.physical = physical
        self.conditions = template.get("Conditions", {})
        self.condition_values = {}

    def ref(self, name):
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/local",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.physical:
            return self.physical[name]
        if name in self.resources:
            return name
        raise Unresolvable(f"Ref {name}")

    def get_att(self, name, attribute):
        key = f"{name}.{attribute}"
        if key in self.physical:
            return self.physical[key]
        if attribute != "Arn" or name not in self.resources:
            raise Unresolvable(f"GetAtt {key}")
        kind = self.resources[name]["Type"]
        physical = self.ref(name)
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{physical}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}:*",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}",
            "AWS::StepFunctions::StateMachine": physical,
            "AWS::SecretsManager::Secret": physical,
        }
        if kind not in arns:
            raise Unresolvable(f"GetAtt {key} of a {kind}")
        return arns[kind]

    def condition(self, name):
        if name not in self.condition_values:
            self.condition_values[name] = bool(self.resolve(self.conditions[name]))
        return self.condition_values[name]

    def sub(self, text, variables):
        def one(match):
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner:
                name, attribute = inner.split(".", 1)
                return self.get_att(name, attribute)
            return str(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value if v != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self.sub(text, self.resolve(variables))
                return self.sub(arg, {})
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
        return {
            k: self.resolve(v)
            for k, v in value.items()
            if v != {"Ref": "AWS::NoValue"}
        }


def role_policies(resolver, resources, role_ref):
    """Inline policies of the role a resource names (`Fn::GetAtt [XRole, Arn]`)."""
    if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
        return "", [], []
    role_name = role_ref["Fn::GetAtt"][0]
    role = resources[role_name]["Properties"]
    policies = [
        {"name": p["PolicyName"], "document": resolver.resolve(p["PolicyDocument"])}
        for p in role.get("Policies", [])
    ]
    managed = resolver.resolve(role.get("ManagedPolicyArns", []))
    return role_name, policies, managed


def render(template_path, params, physical):
    from samtranslator.yaml_helper import yaml_parse

    with open(template_path, encoding="utf-8") as f:
        source = yaml_parse(f.read())
    sam_functions = {
        name: r
        for name, r in source["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    state_machines = {
        name: r["Properties"].get("DefinitionUri")
        for name, r in source["Resources"].items()
        if r["Type"] == "AWS::Serverless::StateMachine"
    }
    # Functions are named after their binary, as the local Lambda host knows them.
    physical = dict(physical)
    for name, r in sam_functions.items():
        binary = r.get("Metadata", {}).get("BuildProperties", {}).get("Binary", name)
        physical.setdefault(name, binary)

    cfn = translate(json.loads(json.dumps(source)))
    resolver = Resolver(cfn, params, physical)
    resources = cfn["Resources"]
    out = {
        "functions": {},
        "state_machine": None,
        "parameters": resolver.params,
        "buckets": {},
        "managed_policies": {},
        "schedules": {},
        "stack_name": STACK,
    }
    # What the local stack applies to the bucket it made: versioning (version ids are in
    # each run's record of its rules).
    for name, r in resources.items():
        if r["Type"] == "AWS::S3::Bucket":
            versioning = r.get("Properties", {}).get("VersioningConfiguration", {})
            out["buckets"][name] = {"versioning": resolver.resolve(versioning.get("Status"))}
    # Policies people attach to themselves (the operators'): the local stack gives them to
    # a user of its own.
    for name, r in resources.items():
        if r["Type"] == "AWS::IAM::ManagedPolicy":
            out["managed_policies"][name] = resolver.resolve(r["Properties"]["PolicyDocument"])
    # The daily schedule (SAM's ScheduleV2 event), as EventBridge Scheduler gets it.
    for name, r in resources.items():
        if r["Type"] == "AWS::Scheduler::Schedule":
            out["schedules"][name] = resolver.resolve(r["Properties"])
    for name in sam_functions:
        props = resources[name]["Properties"]
        role, policies, managed = role_policies(resolver, resources, props.get("Role"))
        out["functions"][name] = {
            "name": resolver.ref(name),
            "timeout": int(props.get("Timeout", 3)),
            "memory": int(props.get("MemorySize", 128)),
            "environment": {
                k: str(v)
                for k, v in resolver.resolve(
                    props.get("Environment", {}).get("Variables", {})
                ).items()
            },
            "role": role,
            "policies": policies,
            "managed_policies": managed,
        }
    for name, definition_uri in state_machines.items():
        props = resources[name]["Properties"]
        role, policies, managed = role_policies(resolver, resources, props.get("RoleArn"))
        out["state_machine"] = {
            "name": name,
            "definition_uri": definition_uri,
            "substitutions": {
                k: str(v)
                for k, v in resolver.resolve(props.get("DefinitionSubstitutions", {})).items()
            },
            "role": role,
            "policies": policies,
            "managed_policies": managed,
        }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template")
    parser.add_argument("--params", default="{}")
    parser.add_argument("--physical", default="{}")
    args = parser.parse_args()
    try:
        rendered = render(args.template, json.loads(args.params), json.loads(args.physical))
    except Unresolvable as e:
        print(f"render_template: cannot resolve {e} in {args.template}", file=sys.stderr)
        return 2
    except Exception as e:  # the translator's own errors name the resource at fault
        print(f"render_template: {args.template}: {e}", file=sys.stderr)
        return 2
    json.dump(rendered, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
