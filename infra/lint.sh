#!/usr/bin/env bash
# Lints the deployable definition: the SAM template with cfn-lint and with the SAM CLI's
# own `sam validate --lint` (the transform a deploy runs), and the state machine with
# asl-validator; `vpc` lints the template as a fixed-egress deploy sets it. Usage:
# infra/lint.sh [template|sam|asl|vpc|all]   (default: all)
# Needs `make setup` (infra/local/setup.sh) first: cfn-lint in .venv, the SAM CLI in
# .venv/sam, asl-validator in node_modules. No AWS access or credentials are needed.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-all}"
status=0

lint_template() {
  if [ ! -x .venv/bin/cfn-lint ]; then
    echo "lint: .venv/bin/cfn-lint is missing: run make setup" >&2
    return 1
  fi
  echo "lint: cfn-lint template.yaml"
  # Warnings fail too (exit codes 4 and 8): the template is kept at zero findings.
  .venv/bin/cfn-lint template.yaml
}

lint_sam() {
  if [ ! -x .venv/sam/bin/sam ]; then
    echo "lint: .venv/sam/bin/sam is missing: run make setup" >&2
    return 1
  fi
  echo "lint: sam validate --lint template.yaml"
  # The SAM CLI wants a region even to validate offline; telemetry would try the network.
  AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-west-2}" SAM_CLI_TELEMETRY=0 \
    .venv/sam/bin/sam validate --lint --template-file template.yaml
}

lint_asl() {
  if [ ! -x node_modules/.bin/asl-validator ]; then
    echo "lint: node_modules/.bin/asl-validator is missing: run make setup" >&2
    return 1
  fi
  echo "lint: asl-validator infra/statemachine.asl.json"
  # The definition as written (the validator accepts the \${...} placeholders) ...
  node_modules/.bin/asl-validator --json-path infra/statemachine.asl.json
  # ... and as deployed, with each placeholder replaced by a Lambda ARN.
  local deployed
  deployed="$(mktemp "${TMPDIR:-/tmp}/leganto-asl.XXXXXX.json")"
  sed -E 's/\$\{([A-Za-z0-9]+)\}/arn:aws:lambda:us-west-2:123456789012:function:leganto-\1/g' \
    infra/statemachine.asl.json >"$deployed"
  if grep -q '\${' "$deployed"; then
    echo "lint: a \${...} placeholder is left after substitution" >&2
    rm -f "$deployed"
    return 1
  fi
  local rc=0
  node_modules/.bin/asl-validator --json-path "$deployed" || rc=$?
  rm -f "$deployed"
  return "$rc"
}

# The template as a fixed-egress deploy gives it (SubnetIds and SecurityGroupIds set), with
# cfn-lint and `sam validate --lint`: the functions' VpcConfig then resolves to subnets.
lint_vpc() {
  if [ ! -x .venv/bin/cfn-lint ] || [ ! -x .venv/sam/bin/sam ]; then
    echo "lint: cfn-lint or the SAM CLI is missing: run make setup" >&2
    return 1
  fi
  local dir rc=0
  dir="$(mktemp -d "${TMPDIR:-/tmp}/leganto-vpc.XXXXXX")"
  python3 - template.yaml "$dir/template.yaml" <<'PY' || rc=$?
import sys
text = open(sys.argv[1]).read()
for name, value in [("SubnetIds", "subnet-0123456789abcdef0,subnet-0fedcba9876543210"),
                    ("SecurityGroupIds", "sg-0123456789abcdef0")]:
    start = text.index(f"\n  {name}:\n")
    default = text.index('    Default: ""\n', start)
    text = text[:default] + f'    Default: "{value}"\n' + text[default + len('    Default: ""\n'):]
open(sys.argv[2], "w").write(text)
PY
  if [ "$rc" -eq 0 ]; then
    echo "lint: cfn-lint and sam validate --lint, template.yaml with SubnetIds and SecurityGroupIds set"
    .venv/bin/cfn-lint "$dir/template.yaml" || rc=$?
    AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-west-2}" SAM_CLI_TELEMETRY=0 \
      .venv/sam/bin/sam validate --lint --template-file "$dir/template.yaml" || rc=$?
  fi
  rm -rf "$dir"
  return "$rc"
}

case "$what" in
  template) lint_template || status=$? ;;
  vpc) lint_vpc || status=$? ;;
  sam) lint_sam || status=$? ;;
  asl) lint_asl || status=$? ;;
  all)
    lint_template || status=$?
    lint_sam || status=$?
    lint_asl || status=$?
    lint_vpc || status=$?
    ;;
  *)
    echo "usage: infra/lint.sh [template|sam|asl|vpc|all]" >&2
    exit 2
    ;;
esac
if [ "$status" -eq 0 ]; then echo "lint: ok"; fi
exit "$status"
