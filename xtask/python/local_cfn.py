"""Deploys infra/template.yaml into a local AWS endpoint (moto) and describes what it created.

moto neither expands the SAM transform nor runs Lambda code, so this script
1. translates the SAM template with aws-sam-translator (the same library `sam deploy` and
   CloudFormation use), pointing each function's CodeUri at a placeholder S3 object;
2. creates the stack in the endpoint's CloudFormation, without the event source mappings
   (moto would try to run functions in Docker for them; the local event-source runner in
   xtask/src/runner.rs plays Lambda's part instead);
3. prints a JSON manifest for the runner: each function's environment as CloudFormation resolved
   it, and each event source mapping with its queue's URL, ARN and settings.

Usage: local_cfn.py deploy --endpoint URL --template PATH --stack NAME [--param KEY=VALUE ...]
       local_cfn.py translate --template PATH
"""

import argparse
import io
import json
import sys
import zipfile

import boto3
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

CODE_BUCKET = "omnisync-local-code"
REGION = "us-east-1"


class NoManagedPolicies:
    """The template names no managed policies by name; SAM's own are ARNs already."""

    def load(self):
        return {}


def translate(template_path):
    with open(template_path, encoding="utf-8") as f:
        sam = yaml_parse(f.read())
    for logical_id, resource in sam.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{logical_id}.zip"
    return transform(sam, {}, NoManagedPolicies())


def client(name, endpoint):
    return boto3.client(
        name,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def placeholder_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\necho 'runs in the local event-source runner'\n")
    return buffer.getvalue()


def deploy(args):
    cfn_template = translate(args.template)
    resources = cfn_template["Resources"]
    mappings = {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    for logical_id in mappings:
        del resources[logical_id]

    s3 = client("s3", args.endpoint)
    s3.create_bucket(Bucket=CODE_BUCKET)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            s3.put_object(Bucket=CODE_BUCKET, Key=f"{logical_id}.zip", Body=placeholder_zip())

    cfn = client("cloudformation", args.endpoint)
    parameters = [
        {"ParameterKey": key, "ParameterValue": value}
        for key, value in (p.split("=", 1) for p in args.param)
    ]
    cfn.create_stack(
        StackName=args.stack,
        TemplateBody=json.dumps(cfn_template),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cfn.get_waiter("stack_create_complete").wait(
        StackName=args.stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    # moto gives some resource types (an EventBridge rule's Lambda permission) no physical id.
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=args.stack)["StackResources"]
        if "PhysicalResourceId" in r
    }
    stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]

    lam = client("lambda", args.endpoint)
    sqs = client("sqs", args.endpoint)
    functions = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        config = lam.get_function_configuration(FunctionName=physical[logical_id])
        functions[logical_id] = {
            "function_name": config["FunctionName"],
            "timeout_seconds": config["Timeout"],
            # Lambda's environment values are strings; moto keeps a Ref to a Number parameter
            # as a number.
            "environment": {
                name: str(value)
                for name, value in config.get("Environment", {}).get("Variables", {}).items()
            },
        }

    parameters_given = dict(p.split("=", 1) for p in args.param)
    defaults = {k: str(v.get("Default", "")) for k, v in cfn_template.get("Parameters", {}).items()}

    def value(v):
        """A mapping property: a literal, or a Ref to a template parameter."""
        if isinstance(v, dict) and "Ref" in v:
            return parameters_given.get(v["Ref"], defaults.get(v["Ref"]))
        return v

    def queue_of(getatt):
        queue_id, attribute = getatt["Fn::GetAtt"]
        if resources[queue_id]["Type"] != "AWS::SQS::Queue" or attribute != "Arn":
            raise SystemExit(f"{queue_id}.{attribute} is not a queue ARN")
        return physical[queue_id]

    dynamodb = client("dynamodb", args.endpoint)
    sources = []
    for logical_id, props in sorted(mappings.items()):
        function_id = props["FunctionName"]["Ref"]
        source_id, attribute = props["EventSourceArn"]["Fn::GetAtt"]
        source_type = resources[source_id]["Type"]
        common = {
            "mapping": logical_id,
            "function": function_id,
            "batch_size": int(value(props.get("BatchSize", 10))),
            "maximum_batching_window_seconds": int(value(props.get("MaximumBatchingWindowInSeconds", 0))),
            "report_batch_item_failures": "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        }
        if source_type == "AWS::SQS::Queue" and attribute == "Arn":
            queue_url = physical[source_id]
            if args.visibility_override is not None:
                sqs.set_queue_attributes(
                    QueueUrl=queue_url,
                    Attributes={"VisibilityTimeout": str(args.visibility_override)},
                )
            attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
            sources.append(
                {
                    **common,
                    "kind": "sqs",
                    "queue_url": queue_url,
                    "queue_arn": attributes["QueueArn"],
                    "visibility_timeout_seconds": int(attributes["VisibilityTimeout"]),
                }
            )
        elif source_type == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            table_name = physical[source_id]
            stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            sources.append(
                {
                    **common,
                    "kind": "dynamodb-stream",
                    "table_name": table_name,
                    "stream_arn": stream_arn,
                    "starting_position": value(props.get("StartingPosition", "LATEST")),
                    "bisect_batch_on_function_error": bool(props.get("BisectBatchOnFunctionError", False)),
                    "maximum_retry_attempts": int(value(props.get("MaximumRetryAttempts", -1))),
                    "maximum_record_age_seconds": int(value(props.get("MaximumRecordAgeInSeconds", -1))),
                    "on_failure_queue_url": queue_of(on_failure) if on_failure else None,
                    "filter_patterns": [f["Pattern"] for f in props.get("FilterCriteria", {}).get("Filters", [])],
                }
            )
        else:
            raise SystemExit(f"{logical_id}: event source {source_id}.{attribute} ({source_type}) is not supported locally")

    queues = {
        logical_id: physical[logical_id]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    tables = {
        logical_id: physical[logical_id]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }
    manifest = {
        "stack": args.stack,
        "endpoint": args.endpoint,
        "region": REGION,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        "queues": queues,
        "tables": tables,
        "functions": functions,
        "event_sources": sources,
    }
    json.dump(manifest, sys.stdout, indent=2, sort_keys=True)
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p_translate = commands.add_parser("translate")
    p_translate.add_argument("--template", required=True)
    p_deploy = commands.add_parser("deploy")
    p_deploy.add_argument("--template", required=True)
    p_deploy.add_argument("--endpoint", required=True)
    p_deploy.add_argument("--stack", required=True)
    p_deploy.add_argument("--param", action="append", default=[])
    p_deploy.add_argument(
        "--visibility-override",
        type=int,
        help="local runs only: set every consumed queue's visibility timeout to this many seconds "
        "(the template ties it to 6x FunctionTimeout; tests want redeliveries in seconds)",
    )
    args = parser.parse_args()
    if args.command == "translate":
        json.dump(translate(args.template), sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        deploy(args)


if __name__ == "__main__":
    main()
