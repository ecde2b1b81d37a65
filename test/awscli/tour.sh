#!/usr/bin/env bash
# A tour of the sandbox with the real AWS CLI: every operation of every emulated service (sts, ecs,
# iam, ec2, ssm, logs, ecr, resourcegroupstaggingapi, autoscaling, elbv2) is called at least once, each JSON answer must
# parse, key fields are checked with --query, and each service is made to return at least one
# expected error.
#
#   ENDPOINT=http://127.0.0.1:4566 test/awscli/tour.sh
#
# AWS_BIN picks the CLI (default: aws on PATH). The sandbox should use the "fast" latency profile
# (instances boot and register with ECS within a second or two) and no IAM propagation delay.
# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are the sandbox's key (`ecs-cwlogs sandbox` prints it):
# every call is signed, and the tour checks that other keys, other Hosts and web pages are refused.
set -euo pipefail

: "${ENDPOINT:?set ENDPOINT to the sandbox URL, e.g. http://127.0.0.1:4566}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the sandbox's key}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY to the sandbox's secret}"
AWS_BIN="${AWS_BIN:-aws}"
CONTROL="$(dirname "${BASH_SOURCE[0]}")/control.py"

export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY ENDPOINT
export AWS_PAGER=""
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent/aws-config
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent/aws-credentials
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION || true

# `command`: with AWS_BIN=aws (the default) the name must not resolve to this function itself.
aws() {
  command "$AWS_BIN" --endpoint-url "$ENDPOINT" --region us-east-1 --output json "$@"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# call ARGS...: run an aws command that must succeed; its output (if any) must be JSON. Prints it.
call() {
  local out
  out=$(aws "$@") || fail "aws $*"
  if [ -n "$out" ]; then
    printf '%s' "$out" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "output of 'aws $*' is not JSON: $out"
  fi
  printf '%s' "$out"
}

# q ARGS...: run an aws command with --query and text output; prints the value.
q() {
  aws "$@" --output text || fail "aws $*"
}

# fails CODE ARGS...: the command must fail with this AWS error code.
fails() {
  local code=$1
  shift
  local err
  if err=$(aws "$@" 2>&1 >/dev/null); then
    fail "expected $code from: aws $*"
  fi
  grep -q "($code)" <<<"$err" || fail "expected $code from 'aws $*', got: $err"
  echo "ok   error $code: $1 $2"
}

# is ACTUAL EXPECTED WHAT
is() {
  [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
  echo "ok   $3"
}

# wait_for WHAT EXPECTED ARGS...: poll a --query until it prints EXPECTED (up to ~20 s).
wait_for() {
  local what=$1 expected=$2 got=''
  shift 2
  for _ in $(seq 1 100); do
    got=$(q "$@")
    [ "$got" = "$expected" ] && { echo "ok   $what"; return 0; }
    sleep 0.2
  done
  fail "$what: expected '$expected', last got '$got'"
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Each tour_* function covers one service. The CLI takes a second or two to start, so sections that
# do not depend on each other run in parallel (see the end of the file).

tour_sts_ssm() {
echo "== sts"
is "$(q sts get-caller-identity --query Arn)" "arn:aws:iam::$ACCOUNT:user/sandbox" "sts get-caller-identity arn"
fails MissingAuthenticationToken sts get-caller-identity --no-sign-request

# ---------------------------------------------------------------------------------------------------
echo "== authentication"
# Another secret for the sandbox's key, and a key the sandbox does not know, per protocol.
AWS_SECRET_ACCESS_KEY=not-the-sandbox-secret fails SignatureDoesNotMatch sts get-caller-identity
AWS_ACCESS_KEY_ID=AKIDNOTTHESANDBOX000 fails InvalidClientTokenId sts get-caller-identity
AWS_ACCESS_KEY_ID=AKIDNOTTHESANDBOX000 fails InvalidClientTokenId iam list-roles
AWS_ACCESS_KEY_ID=AKIDNOTTHESANDBOX000 fails UnrecognizedClientException logs describe-log-groups
AWS_SECRET_ACCESS_KEY=not-the-sandbox-secret fails InvalidSignatureException ecs list-clusters
AWS_SECRET_ACCESS_KEY=not-the-sandbox-secret fails AuthFailure ec2 describe-vpcs
# The control endpoints: signed, from this server's own Host, never from a web page.
[[ "$(python3 "$CONTROL" GET /_sandbox/health)" == 200* ]] || fail "signed GET /_sandbox/health"
[[ "$(python3 "$CONTROL" GET /_sandbox/health --unsigned)" == 403* ]] || fail "an unsigned control call must be refused"
[[ "$(AWS_SECRET_ACCESS_KEY=wrong python3 "$CONTROL" POST /_sandbox/settings '{"throttleRate":1}')" == 403* ]] || fail "a control call signed with another secret must be refused"
[[ "$(python3 "$CONTROL" GET /_sandbox/health --host attacker.example)" == 403* ]] || fail "a foreign Host must be refused"
[[ "$(python3 "$CONTROL" GET /_sandbox/health --origin http://attacker.example)" == 403* ]] || fail "a request with an Origin header must be refused"
echo "ok   control endpoints: signed only, foreign Host and Origin refused"

# ---------------------------------------------------------------------------------------------------
echo "== ssm"
AMI=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id --query Parameter.Value)
[[ "$AMI" == ami-* ]] || fail "AMI id: $AMI"
RECOMMENDED=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended --query Parameter.Value)
is "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["image_id"])' "$RECOMMENDED")" "$AMI" "ssm recommended JSON image_id"
ARM_AMI=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id --query Parameter.Value)
[[ "$ARM_AMI" == ami-* && "$ARM_AMI" != "$AMI" ]] || fail "arm64 AMI id: $ARM_AMI"
is "$(q ssm get-parameters --names /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id /nope --query 'InvalidParameters[0]')" /nope "ssm get-parameters invalid"
call ssm get-parameters-by-path --path /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended >/dev/null
fails ParameterNotFound ssm get-parameter --name /no/such/parameter
# The account's own parameters (the stack's lock lives in one): a create without --overwrite is
# conditional, tags go with a create only, every write is a version.
is "$(q ssm put-parameter --name /tour/lock --type String --value one --tags Key=ecs-cwlogs:stack,Value=tour --query Version)" 1 "ssm put-parameter creates version 1"
fails ParameterAlreadyExists ssm put-parameter --name /tour/lock --type String --value two
fails ValidationException ssm put-parameter --name /tour/lock --type String --value two --overwrite --tags Key=k,Value=v
is "$(q ssm put-parameter --name /tour/lock --type String --value two --overwrite --query Version)" 2 "ssm put-parameter --overwrite: version 2"
is "$(q ssm get-parameter --name /tour/lock --query Parameter.Value)" two "ssm get-parameter of the account's own"
is "$(q ssm get-parameters --names /tour/lock --query 'Parameters[0].Version')" 2 "ssm get-parameters of the account's own"
is "$(q ssm get-parameter-history --name /tour/lock --query 'length(Parameters)')" 2 "ssm get-parameter-history"
is "$(q ssm describe-parameters --parameter-filters Key=Name,Values=/tour/lock --query 'Parameters[0].Version')" 2 "ssm describe-parameters"
call ssm add-tags-to-resource --resource-type Parameter --resource-id /tour/lock --tags Key=extra,Value=1 >/dev/null
is "$(q ssm list-tags-for-resource --resource-type Parameter --resource-id /tour/lock --query 'length(TagList)')" 2 "ssm list-tags-for-resource"
call ssm remove-tags-from-resource --resource-type Parameter --resource-id /tour/lock --tag-keys extra >/dev/null
is "$(q resourcegroupstaggingapi get-resources --resource-type-filters ssm:parameter --tag-filters Key=ecs-cwlogs:stack,Values=tour --query 'ResourceTagMappingList[0].ResourceARN')" "arn:aws:ssm:us-east-1:$ACCOUNT:parameter/tour/lock" "tagging API lists the parameter"
fails ValidationException ssm put-parameter --name /aws/mine --type String --value x
call ssm delete-parameter --name /tour/lock >/dev/null
fails ParameterNotFound ssm delete-parameter --name /tour/lock
}

tour_iam_ec2_ecs() {
echo "== iam"
cat >"$WORK/trust.json" <<'EOF'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}
EOF
cat >"$WORK/policy.json" <<'EOF'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents","logs:CreateLogStream"],"Resource":"*"}]}
EOF
ROLE_ARN=$(q iam create-role --role-name tour-role --assume-role-policy-document "file://$WORK/trust.json" --tags Key=stack,Value=tour --query Role.Arn)
is "$ROLE_ARN" "arn:aws:iam::123456789012:role/tour-role" "iam create-role"
fails EntityAlreadyExists iam create-role --role-name tour-role --assume-role-policy-document "file://$WORK/trust.json"
is "$(q iam get-role --role-name tour-role --query 'Role.AssumeRolePolicyDocument.Statement[0].Principal.Service')" ec2.amazonaws.com "iam get-role document (decoded by the CLI)"
fails NoSuchEntity iam get-role --role-name nope
# The trust policy replaced in place (what `up` does to repair one changed out of band).
cat >"$WORK/trust-ecs.json" <<'EOF'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}
EOF
call iam update-assume-role-policy --role-name tour-role --policy-document "file://$WORK/trust-ecs.json"
is "$(q iam get-role --role-name tour-role --query 'Role.AssumeRolePolicyDocument.Statement[0].Principal.Service')" ecs-tasks.amazonaws.com "iam update-assume-role-policy"
fails MalformedPolicyDocument iam update-assume-role-policy --role-name tour-role --policy-document '{"Statement": oops'
fails NoSuchEntity iam update-assume-role-policy --role-name nope --policy-document "file://$WORK/trust.json"
call iam update-assume-role-policy --role-name tour-role --policy-document "file://$WORK/trust.json"
is "$(q iam list-role-policies --role-name tour-role --query 'length(PolicyNames)')" 0 "iam list-role-policies (no inline policy)"
fails NoSuchEntity iam list-role-policies --role-name nope
call iam list-roles >/dev/null
call iam tag-role --role-name tour-role --tags Key=owner,Value=me
is "$(q iam list-role-tags --role-name tour-role --query 'length(Tags)')" 2 "iam list-role-tags"
call iam untag-role --role-name tour-role --tag-keys owner

POLICY_ARN=$(q iam create-policy --policy-name tour-policy --policy-document "file://$WORK/policy.json" --tags Key=stack,Value=tour --query Policy.Arn)
fails EntityAlreadyExists iam create-policy --policy-name tour-policy --policy-document "file://$WORK/policy.json"
fails MalformedPolicyDocument iam create-policy --policy-name tour-bad --policy-document '{"Statement": oops'
call iam get-policy --policy-arn "$POLICY_ARN" >/dev/null
is "$(q iam get-policy-version --policy-arn "$POLICY_ARN" --version-id v1 --query 'PolicyVersion.Document.Statement[0].Effect')" Allow "iam get-policy-version document"
is "$(q iam create-policy-version --policy-arn "$POLICY_ARN" --policy-document "file://$WORK/policy.json" --set-as-default --query PolicyVersion.VersionId)" v2 "iam create-policy-version"
call iam set-default-policy-version --policy-arn "$POLICY_ARN" --version-id v1
is "$(q iam list-policy-versions --policy-arn "$POLICY_ARN" --query 'length(Versions)')" 2 "iam list-policy-versions"
fails DeleteConflict iam delete-policy-version --policy-arn "$POLICY_ARN" --version-id v1
call iam delete-policy-version --policy-arn "$POLICY_ARN" --version-id v2
is "$(q iam list-policies --scope Local --query 'Policies[].PolicyName | join(`,`, @)')" tour-policy "iam list-policies --scope Local (paginated by the CLI)"
call iam tag-policy --policy-arn "$POLICY_ARN" --tags Key=owner,Value=me
is "$(q iam list-policy-tags --policy-arn "$POLICY_ARN" --query 'length(Tags)')" 2 "iam list-policy-tags"
call iam untag-policy --policy-arn "$POLICY_ARN" --tag-keys owner

call iam attach-role-policy --role-name tour-role --policy-arn arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role
call iam attach-role-policy --role-name tour-role --policy-arn arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy
call iam attach-role-policy --role-name tour-role --policy-arn arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore
call iam attach-role-policy --role-name tour-role --policy-arn "$POLICY_ARN"
fails NoSuchEntity iam attach-role-policy --role-name tour-role --policy-arn arn:aws:iam::aws:policy/NoSuchPolicy
is "$(q iam list-attached-role-policies --role-name tour-role --query 'length(AttachedPolicies)')" 4 "iam list-attached-role-policies"
fails DeleteConflict iam delete-policy --policy-arn "$POLICY_ARN"
call iam detach-role-policy --role-name tour-role --policy-arn "$POLICY_ARN"
call iam delete-policy --policy-arn "$POLICY_ARN"

PROFILE_ARN=$(q iam create-instance-profile --instance-profile-name tour-profile --tags Key=stack,Value=tour --query InstanceProfile.Arn)
fails EntityAlreadyExists iam create-instance-profile --instance-profile-name tour-profile
call iam add-role-to-instance-profile --instance-profile-name tour-profile --role-name tour-role
fails LimitExceeded iam add-role-to-instance-profile --instance-profile-name tour-profile --role-name tour-role
is "$(q iam get-instance-profile --instance-profile-name tour-profile --query 'InstanceProfile.Roles[0].RoleName')" tour-role "iam get-instance-profile"
is "$(q iam list-instance-profiles-for-role --role-name tour-role --query 'InstanceProfiles[0].Arn')" "$PROFILE_ARN" "iam list-instance-profiles-for-role"
call iam list-instance-profiles >/dev/null
call iam tag-instance-profile --instance-profile-name tour-profile --tags Key=owner,Value=me
is "$(q iam list-instance-profile-tags --instance-profile-name tour-profile --query 'length(Tags)')" 2 "iam list-instance-profile-tags"
call iam untag-instance-profile --instance-profile-name tour-profile --tag-keys owner
fails DeleteConflict iam delete-role --role-name tour-role


echo "== ec2"
AMI=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id --query Parameter.Value)
VPC=$(q ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId')
is "$(q ec2 describe-vpcs --vpc-ids "$VPC" --query 'Vpcs[0].CidrBlock')" 172.31.0.0/16 "ec2 default VPC"
is "$(q ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId')" "$VPC" "ec2 describe-vpcs isDefault (older filter name)"
is "$(q ec2 describe-subnets --filters Name=vpcId,Values="$VPC" Name=defaultForAz,Values=true --query 'length(Subnets)')" 3 "ec2 describe-subnets vpcId/defaultForAz"
fails InvalidParameterValue ec2 describe-vpcs --filters Name=is-the-default,Values=true
is "$(q ec2 describe-subnets --filters Name=vpc-id,Values="$VPC" Name=default-for-az,Values=true --query 'length(Subnets)')" 3 "ec2 default subnets"
SUBNET=$(q ec2 describe-subnets --filters Name=vpc-id,Values="$VPC" Name=availability-zone,Values=us-east-1a --query 'Subnets[0].SubnetId')
fails InvalidSubnetID.NotFound ec2 describe-subnets --subnet-ids subnet-0123456789abcdef0
fails InvalidVpcID.NotFound ec2 describe-vpcs --vpc-ids vpc-0123456789abcdef0
call ec2 describe-availability-zones >/dev/null
is "$(q ec2 describe-images --image-ids "$AMI" --query 'Images[0].Architecture')" x86_64 "ec2 describe-images (SSM AMI)"
call ec2 describe-images --owners amazon --filters 'Name=name,Values=al2023-ami-ecs-hvm-*' >/dev/null
fails InvalidAMIID.NotFound ec2 describe-images --image-ids ami-0123456789abcdef0
is "$(q ec2 describe-instance-types --instance-types t3.small --query 'InstanceTypes[0].MemoryInfo.SizeInMiB')" 2048 "ec2 describe-instance-types"
is "$(q ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=instance-type,Values=t3.small --query 'length(InstanceTypeOfferings)')" 3 "ec2 describe-instance-type-offerings (every zone)"
is "$(q ec2 describe-instance-type-offerings --filters Name=instance-type,Values=t3.small --query 'InstanceTypeOfferings[0].Location')" us-east-1 "ec2 describe-instance-type-offerings (region)"
is "$(q ec2 describe-instance-type-offerings --location-type availability-zone-id --filters Name=instance-type,Values=t3.small Name=location,Values=use1-az2 --query 'InstanceTypeOfferings[0].LocationType')" availability-zone-id "ec2 describe-instance-type-offerings by zone id"

is "$(q ec2 create-key-pair --key-name tour-key --query 'KeyMaterial' | head -1)" "-----BEGIN RSA PRIVATE KEY-----" "ec2 create-key-pair"
fails InvalidKeyPair.Duplicate ec2 create-key-pair --key-name tour-key
call ec2 describe-key-pairs --key-names tour-key >/dev/null
fails InvalidKeyPair.NotFound ec2 describe-key-pairs --key-names nope

SG=$(q ec2 create-security-group --group-name tour-sg --description "tour" --vpc-id "$VPC" \
  --tag-specifications 'ResourceType=security-group,Tags=[{Key=stack,Value=tour}]' --query GroupId)
fails InvalidGroup.Duplicate ec2 create-security-group --group-name tour-sg --description "tour" --vpc-id "$VPC"
call ec2 authorize-security-group-ingress --group-id "$SG" \
  --ip-permissions 'IpProtocol=tcp,FromPort=514,ToPort=514,IpRanges=[{CidrIp=203.0.113.7/32,Description=me}]' >/dev/null
fails InvalidPermission.Duplicate ec2 authorize-security-group-ingress --group-id "$SG" \
  --ip-permissions 'IpProtocol=tcp,FromPort=514,ToPort=514,IpRanges=[{CidrIp=203.0.113.7/32}]'
call ec2 authorize-security-group-ingress --group-id "$SG" --protocol udp --port 514 --cidr 203.0.113.7/32 >/dev/null
call ec2 revoke-security-group-ingress --group-id "$SG" --protocol udp --port 514 --cidr 203.0.113.7/32 >/dev/null
is "$(q ec2 describe-security-groups --filters Name=tag:stack,Values=tour --query 'SecurityGroups[0].IpPermissions[0].IpRanges[0].Description')" me "ec2 describe-security-groups by tag"
fails InvalidGroup.NotFound ec2 describe-security-groups --group-ids sg-0123456789abcdef0

cat >"$WORK/user-data.sh" <<'EOF'
#!/bin/bash
echo ECS_CLUSTER=tour-cluster >> /etc/ecs/ecs.config
EOF
fails InvalidParameterValue ec2 run-instances --image-id "$AMI" --instance-type t3.gigantic --count 1
fails InvalidParameterValue ec2 run-instances --image-id "$AMI" --instance-type t3.small --count 1 --iam-instance-profile Name=nope
fails InvalidAMIID.NotFound ec2 run-instances --image-id ami-0123456789abcdef0 --instance-type t3.small --count 1

# The ECS cluster must exist for the instance's agent to register.
call ecs create-cluster --cluster-name tour-cluster --tags key=stack,value=tour >/dev/null

RUN=(ec2 run-instances --image-id "$AMI" --instance-type t3.small --count 1 --subnet-id "$SUBNET"
  --security-group-ids "$SG" --key-name tour-key --iam-instance-profile Name=tour-profile
  --user-data "file://$WORK/user-data.sh" --client-token tour-token
  --metadata-options HttpTokens=required,HttpPutResponseHopLimit=2,HttpEndpoint=enabled
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=30,VolumeType=gp3,Encrypted=true}'
  --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=tour}]' 'ResourceType=volume,Tags=[{Key=Name,Value=tour-root}]'
  --query 'Instances[0].InstanceId')
INSTANCE=$(q "${RUN[@]}")
is "$(q "${RUN[@]}")" "$INSTANCE" "ec2 run-instances is idempotent with --client-token"
is "$(q ec2 describe-instance-credit-specifications --instance-ids "$INSTANCE" --query 'InstanceCreditSpecifications[0].CpuCredits')" unlimited "ec2 describe-instance-credit-specifications (t3 default)"
CREDITS=$(q ec2 run-instances --image-id "$AMI" --instance-type t3.micro --count 1 --subnet-id "$SUBNET" --credit-specification CpuCredits=standard --query 'Instances[0].InstanceId')
is "$(q ec2 describe-instance-credit-specifications --instance-ids "$CREDITS" --query 'InstanceCreditSpecifications[0].CpuCredits')" standard "ec2 run-instances --credit-specification"
fails InstanceCreditSpecification.NotSupported ec2 run-instances --image-id "$AMI" --instance-type m5.large --count 1 --credit-specification CpuCredits=unlimited
is "$(q ec2 modify-instance-credit-specification --instance-credit-specifications "InstanceId=$CREDITS,CpuCredits=unlimited" --query 'SuccessfulInstanceCreditSpecifications[0].InstanceId')" "$CREDITS" "ec2 modify-instance-credit-specification"
is "$(q ec2 describe-instance-credit-specifications --instance-ids "$CREDITS" --query 'InstanceCreditSpecifications[0].CpuCredits')" unlimited "ec2 describe-instance-credit-specifications after modify"
call ec2 terminate-instances --instance-ids "$CREDITS" >/dev/null
# Placement: a zone that does not offer t3.* (Unsupported) and one with no capacity left
# (InsufficientInstanceCapacity), set through the sandbox's settings endpoint.
SUBNET_B=$(q ec2 describe-subnets --filters Name=vpc-id,Values="$VPC" Name=availability-zone,Values=us-east-1b --query 'Subnets[0].SubnetId')
[[ "$(python3 "$CONTROL" POST /_sandbox/settings '{"notOffered":{"us-east-1a":["t3.*"]},"capacity":{"us-east-1b":0}}')" == 200* ]] || fail "POST /_sandbox/settings"
is "$(q ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=instance-type,Values=t3.small --query 'join(`,`, sort(InstanceTypeOfferings[].Location))')" us-east-1b,us-east-1c "ec2 describe-instance-type-offerings without a zone that does not offer the type"
fails Unsupported ec2 run-instances --image-id "$AMI" --instance-type t3.small --count 1 --subnet-id "$SUBNET"
AWS_MAX_ATTEMPTS=1 fails InsufficientInstanceCapacity ec2 run-instances --image-id "$AMI" --instance-type t3.small --count 1 --subnet-id "$SUBNET_B"
[[ "$(python3 "$CONTROL" POST /_sandbox/settings '{"notOffered":null,"capacity":null}')" == 200* ]] || fail "POST /_sandbox/settings"
fails IdempotentParameterMismatch ec2 run-instances --image-id "$AMI" --instance-type t3.medium --count 1 --client-token tour-token
wait_for "ec2 instance running" running ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name'
[[ "$(q ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].PublicIpAddress')" =~ ^[0-9.]+$ ]] || fail "public IP"
is "$(q ec2 describe-instances --filters Name=tag:Name,Values=tour Name=instance-state-name,Values=running --query 'Reservations[0].Instances[0].InstanceId')" "$INSTANCE" "ec2 describe-instances filters"
fails InvalidInstanceID.NotFound ec2 describe-instances --instance-ids i-0123456789abcdef0
fails InvalidInstanceID.Malformed ec2 describe-instances --instance-ids i-nope
call ec2 create-tags --resources "$INSTANCE" --tags Key=extra,Value=1
is "$(q ec2 describe-tags --filters Name=resource-id,Values="$INSTANCE" Name=key,Values=extra --query 'Tags[0].Value')" 1 "ec2 create-tags / describe-tags"
call ec2 delete-tags --resources "$INSTANCE" --tags Key=extra
is "$(q ec2 describe-volumes --filters Name=attachment.instance-id,Values="$INSTANCE" --query 'Volumes[0].Tags[0].Value')" tour-root "ec2 describe-volumes"
fails DependencyViolation ec2 delete-security-group --group-id "$SG"
# Instance attributes: the user data comes back base64-encoded, as it was sent.
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute userData --query UserData.Value | base64 -d)" "$(cat "$WORK/user-data.sh")" "ec2 describe-instance-attribute userData"
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute instanceType --query InstanceType.Value)" t3.small "ec2 describe-instance-attribute instanceType"
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute groupSet --query 'Groups[0].GroupId')" "$SG" "ec2 describe-instance-attribute groupSet"
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute instanceInitiatedShutdownBehavior --query InstanceInitiatedShutdownBehavior.Value)" stop "ec2 describe-instance-attribute instanceInitiatedShutdownBehavior"
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute blockDeviceMapping --query 'BlockDeviceMappings[0].DeviceName')" /dev/xvda "ec2 describe-instance-attribute blockDeviceMapping"
fails InvalidParameterValue ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute nope
fails IncorrectInstanceState ec2 modify-instance-attribute --instance-id "$INSTANCE" --instance-type Value=t3.medium
call ec2 modify-instance-attribute --instance-id "$INSTANCE" --disable-api-termination
fails OperationNotPermitted ec2 terminate-instances --instance-ids "$INSTANCE"
call ec2 modify-instance-attribute --instance-id "$INSTANCE" --no-disable-api-termination
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute disableApiTermination --query DisableApiTermination.Value)" False "ec2 modify-instance-attribute --no-disable-api-termination"
call ec2 modify-instance-attribute --instance-id "$INSTANCE" --no-source-dest-check
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute sourceDestCheck --query SourceDestCheck.Value)" False "ec2 modify-instance-attribute --no-source-dest-check"
call ec2 modify-instance-attribute --instance-id "$INSTANCE" --groups "$SG"


echo "== ecs"
is "$(q ecs describe-clusters --clusters tour-cluster --query 'clusters[0].status')" ACTIVE "ecs describe-clusters"
call ecs list-clusters >/dev/null
wait_for "ecs container instance registered" 1 ecs list-container-instances --cluster tour-cluster --query 'length(containerInstanceArns)'
CI=$(q ecs list-container-instances --cluster tour-cluster --query 'containerInstanceArns[0]')
is "$(q ecs describe-container-instances --cluster tour-cluster --container-instances "$CI" --query 'containerInstances[0].ec2InstanceId')" "$INSTANCE" "ecs describe-container-instances"
fails ClusterNotFoundException ecs list-services --cluster nope

cat >"$WORK/taskdef.json" <<'EOF'
{
  "family": "tour-logger",
  "networkMode": "bridge",
  "requiresCompatibilities": ["EC2"],
  "containerDefinitions": [
    {
      "name": "logger",
      "image": "public.ecr.aws/docker/library/busybox:latest",
      "memory": 128,
      "cpu": 128,
      "essential": true,
      "portMappings": [{ "containerPort": 514, "hostPort": 514, "protocol": "tcp" }]
    }
  ]
}
EOF
TD=$(q ecs register-task-definition --cli-input-json "file://$WORK/taskdef.json" --query taskDefinition.taskDefinitionArn)
# RunTask places on the cluster's container instances: the second task needs host port 514, taken by the first.
is "$(q ecs run-task --cluster tour-cluster --task-definition tour-logger --count 2 --started-by tour --query 'join(`,`, [to_string(length(tasks)), failures[0].reason])')" "1,RESOURCE:PORTS" "ecs run-task places one, reports the other as a failure"
RUN_TASK=$(q ecs list-tasks --cluster tour-cluster --started-by tour --query 'taskArns[0]')
call ecs stop-task --cluster tour-cluster --task "$RUN_TASK" --reason tour >/dev/null
call ecs create-cluster --cluster-name tour-empty >/dev/null
fails InvalidParameterException ecs run-task --cluster tour-empty --task-definition tour-logger
call ecs delete-cluster --cluster tour-empty >/dev/null
is "$(q ecs describe-task-definition --task-definition tour-logger --query taskDefinition.revision)" 1 "ecs describe-task-definition"
call ecs list-task-definitions >/dev/null
call ecs list-task-definition-families >/dev/null
SERVICE=$(q ecs create-service --cluster tour-cluster --service-name tour-service --task-definition "$TD" --desired-count 1 --query service.serviceArn)
is "$(q ecs describe-services --cluster tour-cluster --services tour-service --query 'services[0].status')" ACTIVE "ecs describe-services"
is "$(q ecs list-services --cluster tour-cluster --query 'length(serviceArns)')" 1 "ecs list-services"
wait_for "ecs service task running" 1 ecs describe-services --cluster tour-cluster --services tour-service --query 'services[0].runningCount'
TASK=$(q ecs list-tasks --cluster tour-cluster --service-name tour-service --query 'taskArns[0]')
is "$(q ecs describe-tasks --cluster tour-cluster --tasks "$TASK" --query 'tasks[0].lastStatus')" RUNNING "ecs describe-tasks"
call ecs stop-task --cluster tour-cluster --task "$TASK" --reason tour >/dev/null
call ecs tag-resource --resource-arn "$SERVICE" --tags key=owner,value=me
is "$(q ecs list-tags-for-resource --resource-arn "$SERVICE" --query 'tags[?key==`owner`].value | [0]')" me "ecs tags"
call ecs untag-resource --resource-arn "$SERVICE" --tag-keys owner
call ecs update-service --cluster tour-cluster --service tour-service --desired-count 0 >/dev/null
call ecs delete-service --cluster tour-cluster --service tour-service --force >/dev/null
call ecs deregister-task-definition --task-definition "$TD" >/dev/null
is "$(q ecs list-task-definitions --family-prefix tour-logger --status INACTIVE --query 'taskDefinitionArns[0]')" "$TD" "ecs list-task-definitions --status INACTIVE"
is "$(q ecs list-task-definitions --family-prefix tour-logger --query 'length(taskDefinitionArns)')" 0 "ecs list-task-definitions (ACTIVE by default)"
is "$(q ecs describe-task-definition --task-definition "$TD" --query taskDefinition.status)" INACTIVE "ecs describe-task-definition of an INACTIVE revision"
is "$(q ecs list-task-definition-families --status INACTIVE --family-prefix tour- --query 'families[0]')" tour-logger "ecs list-task-definition-families --status INACTIVE"
# DeleteTaskDefinitions is newer than Debian's awscli 2.9: call it only where the CLI knows it.
if "$AWS_BIN" ecs delete-task-definitions help >/dev/null 2>&1; then
  is "$(q ecs delete-task-definitions --task-definitions "$TD" tour-logger --query 'join(`,`, [taskDefinitions[0].status, failures[0].arn])')" \
    "DELETE_IN_PROGRESS,tour-logger" "ecs delete-task-definitions (a revision is required)"
  fails InvalidParameterException ecs delete-task-definitions --task-definitions a:1 a:2 a:3 a:4 a:5 a:6 a:7 a:8 a:9 a:10 a:11
fi
cat >"$WORK/identity.json" <<EOF
{"instanceId":"$INSTANCE","region":"us-east-1","accountId":"$ACCOUNT"}
EOF
CI2=$(q ecs register-container-instance --cluster tour-cluster --instance-identity-document "file://$WORK/identity.json" --query containerInstance.containerInstanceArn)
is "$(q ecs deregister-container-instance --cluster tour-cluster --container-instance "$CI" --force --query containerInstance.status)" INACTIVE "ecs deregister-container-instance --force"
fails InvalidParameterException ecs deregister-container-instance --cluster tour-cluster --container-instance "$CI"

# A stopped instance keeps its container instance registered, with the agent disconnected.
is "$(q ec2 stop-instances --instance-ids "$INSTANCE" --query 'StoppingInstances[0].CurrentState.Name')" stopping "ec2 stop-instances"
wait_for "ec2 instance stopped" stopped ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name'
is "$(q ecs describe-container-instances --cluster tour-cluster --container-instances "$CI2" --query 'join(`,`, [containerInstances[0].status, to_string(containerInstances[0].agentConnected)])')" \
  "ACTIVE,false" "ecs container instance of a stopped EC2 instance"
fails ClusterContainsContainerInstancesException ecs delete-cluster --cluster tour-cluster
is "$(q ec2 start-instances --instance-ids "$INSTANCE" --query 'StartingInstances[0].CurrentState.Name')" pending "ec2 start-instances"
wait_for "ec2 instance running again" running ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name'
wait_for "ecs agent reconnected" True ecs describe-container-instances --cluster tour-cluster --container-instances "$CI2" --query 'containerInstances[0].agentConnected'
call ec2 stop-instances --instance-ids "$INSTANCE" >/dev/null
wait_for "ec2 instance stopped again" stopped ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name'
call ec2 modify-instance-attribute --instance-id "$INSTANCE" --instance-type Value=t3.medium
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute instanceType --query InstanceType.Value)" t3.medium "ec2 modify-instance-attribute --instance-type (stopped)"
printf '#!/bin/bash\necho changed\n' >"$WORK/user-data-2.sh"
call ec2 modify-instance-attribute --instance-id "$INSTANCE" --attribute userData --value "$(base64 -w0 "$WORK/user-data-2.sh")"
is "$(q ec2 describe-instance-attribute --instance-id "$INSTANCE" --attribute userData --query UserData.Value | base64 -d)" "$(cat "$WORK/user-data-2.sh")" "ec2 modify-instance-attribute userData (stopped)"


echo "== teardown"
TERMINATING=$(q ec2 terminate-instances --instance-ids "$INSTANCE" --query 'TerminatingInstances[0].CurrentState.Name')
is "$TERMINATING" shutting-down "ec2 terminate-instances"
wait_for "ec2 instance terminated" terminated ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name'
fails IncorrectInstanceState ec2 start-instances --instance-ids "$INSTANCE"
call ec2 delete-security-group --group-id "$SG" >/dev/null
call ec2 delete-key-pair --key-name tour-key >/dev/null
# Terminated after a stop: ECS does not deregister it; the cluster cannot go until it is deregistered.
is "$(q ecs describe-container-instances --cluster tour-cluster --container-instances "$CI2" --query 'containerInstances[0].status')" ACTIVE "ecs container instance of a stopped, then terminated instance"
fails ClusterContainsContainerInstancesException ecs delete-cluster --cluster tour-cluster
call ecs deregister-container-instance --cluster tour-cluster --container-instance "$CI2" --force >/dev/null
call ecs delete-cluster --cluster tour-cluster >/dev/null
call iam remove-role-from-instance-profile --instance-profile-name tour-profile --role-name tour-role
call iam delete-instance-profile --instance-profile-name tour-profile
for arn in arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore; do
  call iam detach-role-policy --role-name tour-role --policy-arn "$arn"
done
call iam delete-role --role-name tour-role
}

tour_logs() {
echo "== logs"
call logs create-log-group --log-group-name /tour/app --tags stack=tour
fails ResourceAlreadyExistsException logs create-log-group --log-group-name /tour/app
fails InvalidParameterException logs put-retention-policy --log-group-name /tour/app --retention-in-days 2
call logs put-retention-policy --log-group-name /tour/app --retention-in-days 7
is "$(q logs describe-log-groups --log-group-name-prefix /tour/ --query 'logGroups[0].retentionInDays')" 7 "logs describe-log-groups"
call logs delete-retention-policy --log-group-name /tour/app
call logs create-log-stream --log-group-name /tour/app --log-stream-name web
call logs create-log-stream --log-group-name /tour/app --log-stream-name worker
fails ResourceNotFoundException logs create-log-stream --log-group-name /tour/nope --log-stream-name web
is "$(q logs describe-log-streams --log-group-name /tour/app --order-by LogStreamName --descending --query 'logStreams[0].logStreamName')" worker "logs describe-log-streams"
NOW=$(($(date +%s) * 1000))
call logs put-log-events --log-group-name /tour/app --log-stream-name web \
  --log-events "timestamp=$NOW,message=GET /health 200" "timestamp=$((NOW + 1)),message=GET /api 500 ERROR" >/dev/null
call logs put-log-events --log-group-name /tour/app --log-stream-name worker --log-events "timestamp=$((NOW + 2)),message=job ERROR" >/dev/null
is "$(q logs get-log-events --log-group-name /tour/app --log-stream-name web --start-from-head --query 'length(events)')" 2 "logs get-log-events"
is "$(q logs filter-log-events --log-group-name /tour/app --filter-pattern ERROR --query 'events[].logStreamName | join(`,`, @)')" web,worker "logs filter-log-events"
LOG_ARN="arn:aws:logs:us-east-1:$ACCOUNT:log-group:/tour/app"
call logs tag-resource --resource-arn "$LOG_ARN" --tags owner=me
is "$(q logs list-tags-for-resource --resource-arn "$LOG_ARN" --query tags.owner)" me "logs list-tags-for-resource"
call logs untag-resource --resource-arn "$LOG_ARN" --tag-keys owner
call logs tag-log-group --log-group-name /tour/app --tags legacy=yes
is "$(q logs list-tags-log-group --log-group-name /tour/app --query tags.legacy)" yes "logs list-tags-log-group"
call logs untag-log-group --log-group-name /tour/app --tags legacy
call logs delete-log-stream --log-group-name /tour/app --log-stream-name worker
call logs delete-log-group --log-group-name /tour/app
fails ResourceNotFoundException logs delete-log-group --log-group-name /tour/app

}

tour_ecr() {
echo "== ecr"
REPO_URI=$(q ecr create-repository --repository-name tour/logger --tags Key=stack,Value=tour --query repository.repositoryUri)
# The sandbox's registry is on loopback (a rehearsal never resolves an AWS host).
[[ "$REPO_URI" =~ ^127\.0\.0\.1:[0-9]+/tour/logger$ ]] || fail "ecr create-repository: repositoryUri $REPO_URI is not on loopback"
echo "ok   ecr create-repository"
fails RepositoryAlreadyExistsException ecr create-repository --repository-name tour/logger
is "$(q ecr describe-repositories --query 'length(repositories)')" 1 "ecr describe-repositories"
fails RepositoryNotFoundException ecr describe-repositories --repository-names nope
is "$(q ecr describe-images --repository-name tour/logger --query 'length(imageDetails)')" 0 "ecr describe-images (empty)"
fails ImageNotFoundException ecr describe-images --repository-name tour/logger --image-ids imageTag=latest
cat >"$WORK/manifest.json" <<'EOF'
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":10,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"layers":[]}
EOF
call ecr put-image --repository-name tour/logger --image-tag v1 --image-manifest "file://$WORK/manifest.json" >/dev/null
fails RepositoryNotEmptyException ecr delete-repository --repository-name tour/logger
TOKEN=$(q ecr get-authorization-token --query 'authorizationData[0].authorizationToken')
[[ "$(printf '%s' "$TOKEN" | base64 -d)" == AWS:* ]] || fail "ecr authorization token"
echo "ok   ecr get-authorization-token"
REPO_ARN="arn:aws:ecr:us-east-1:$ACCOUNT:repository/tour/logger"
call ecr tag-resource --resource-arn "$REPO_ARN" --tags Key=owner,Value=me
is "$(q ecr list-tags-for-resource --resource-arn "$REPO_ARN" --query 'length(tags)')" 2 "ecr list-tags-for-resource"
call ecr untag-resource --resource-arn "$REPO_ARN" --tag-keys owner
call ecr delete-repository --repository-name tour/logger --force >/dev/null

}

tour_tagging() {
echo "== resourcegroupstaggingapi"
# Its own resources, tagged tour-tagging=..., so the other sections running meanwhile do not matter.
cat >"$WORK/tagging-trust.json" <<'EOF'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}
EOF
for c in a b c; do
  call ecs create-cluster --cluster-name "tagging-$c" --tags key=tour-tagging,value="$c" key=kind,value=cluster >/dev/null
done
for _ in 1 2; do
  call ecs register-task-definition --family tagging-td --container-definitions '[{"name":"app","image":"nginx","memory":64}]' \
    --tags key=tour-tagging,value=a >/dev/null
done
call ecs deregister-task-definition --task-definition tagging-td:1 >/dev/null
call logs create-log-group --log-group-name /tagging-tour/app --tags tour-tagging=a
ROLE_PATHED=$(q iam create-role --role-name tagging-role --path /tour-path/ --assume-role-policy-document "file://$WORK/tagging-trust.json" \
  --tags Key=tour-tagging,Value=a --query Role.Arn)
is "$ROLE_PATHED" "arn:aws:iam::$ACCOUNT:role/tour-path/tagging-role" "iam create-role --path (the path is in the ARN)"
call iam create-instance-profile --instance-profile-name tagging-profile --path /tour-path/ --tags Key=tour-tagging,Value=a >/dev/null
is "$(q iam list-roles --path-prefix /tour-path/ --query 'Roles[].RoleName | join(`,`, @)')" tagging-role "iam list-roles --path-prefix"
is "$(q iam list-roles --path-prefix /no-such-path/ --query 'length(Roles)')" 0 "iam list-roles --path-prefix (none)"
is "$(q iam list-instance-profiles --path-prefix /tour-path/ --query 'InstanceProfiles[0].Path')" /tour-path/ "iam list-instance-profiles --path-prefix"
is "$(q iam list-policies --scope Local --path-prefix /tour-path/ --query 'length(Policies)')" 0 "iam list-policies --path-prefix"
fails ValidationError iam list-roles --path-prefix tour-path

TD1="arn:aws:ecs:us-east-1:$ACCOUNT:task-definition/tagging-td:1"
is "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging,Values=a --query 'ResourceTagMappingList[].ResourceARN | sort(@) | join(`,`, @)')" \
  "arn:aws:ecs:us-east-1:$ACCOUNT:cluster/tagging-a,$TD1,arn:aws:ecs:us-east-1:$ACCOUNT:task-definition/tagging-td:2,arn:aws:iam::$ACCOUNT:instance-profile/tour-path/tagging-profile,arn:aws:logs:us-east-1:$ACCOUNT:log-group:/tagging-tour/app" \
  "tagging get-resources by tag (INACTIVE revision kept, IAM role not returned)"
is "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging,Values=a,b Key=kind --query 'length(ResourceTagMappingList)')" 2 \
  "tagging get-resources: filters AND, values OR"
is "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging --resource-type-filters ecs:cluster --query 'length(ResourceTagMappingList)')" 3 \
  "tagging get-resources --resource-type-filters ecs:cluster"
is "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging --resource-type-filters ecs --query 'length(ResourceTagMappingList)')" 5 \
  "tagging get-resources --resource-type-filters ecs (service only)"
is "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging --resource-type-filters logs:log-group iam:instance-profile --query 'length(ResourceTagMappingList)')" 2 \
  "tagging get-resources --resource-type-filters logs:log-group iam:instance-profile"
# Pagination: the CLI follows PaginationToken page by page ("" ends it); JSON output merges the pages.
is "$(aws resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging --page-size 1 --query 'length(ResourceTagMappingList)')" 7 \
  "tagging get-resources --page-size 1 (the CLI follows every page)"
[ -n "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging --page-size 1 --max-items 2 --query NextToken)" ] || fail "tagging: a NextToken after 2 of 7"
echo "ok   tagging get-resources --max-items 2 leaves a NextToken"
is "$(aws resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging,Values=c --no-paginate --query PaginationToken)" '""' "tagging PaginationToken is \"\" when done"
fails InvalidParameterException resourcegroupstaggingapi get-resources --page-size 101
fails InvalidParameterException resourcegroupstaggingapi get-resources --resource-arn-list "$TD1" --resource-type-filters ecs
fails PaginationTokenExpiredException resourcegroupstaggingapi get-resources --no-paginate --cli-input-json '{"PaginationToken":"bogus"}'
is "$(q resourcegroupstaggingapi get-resources --resource-arn-list "$TD1" --query 'ResourceTagMappingList[0].Tags[0].Value')" a "tagging get-resources --resource-arn-list"
q resourcegroupstaggingapi get-tag-keys --query 'TagKeys' | tr '\t' '\n' | grep -qx tour-tagging || fail "tagging get-tag-keys"
echo "ok   tagging get-tag-keys"
is "$(q resourcegroupstaggingapi get-tag-values --key tour-tagging --query 'TagValues | join(`,`, @)')" a,b,c "tagging get-tag-values"

# A deleted cluster is no longer returned.
call ecs delete-cluster --cluster tagging-c >/dev/null
is "$(q resourcegroupstaggingapi get-resources --tag-filters Key=tour-tagging,Values=c --query 'length(ResourceTagMappingList)')" 0 "tagging: a deleted cluster is gone"
for c in a b; do call ecs delete-cluster --cluster "tagging-$c" >/dev/null; done
call logs delete-log-group --log-group-name /tagging-tour/app
call iam delete-instance-profile --instance-profile-name tagging-profile
call iam delete-role --role-name tagging-role
}

tour_autoscaling() {
echo "== ec2 launch templates"
# m5 types: tour_iam_ec2_ecs takes t3.* out of us-east-1a for a while (settings.notOffered).
local ami vpc subnets lt lt_inst ud first second
ami=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id --query Parameter.Value)
vpc=$(q ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId')
subnets=$(q ec2 describe-subnets --filters Name=vpc-id,Values="$vpc" Name=defaultForAz,Values=true --query 'join(`,`, sort(Subnets[].SubnetId))')
is "$(tr ',' '\n' <<<"$subnets" | wc -l | tr -d ' ')" 3 "ec2 describe-subnets legacy filter names (isDefault, defaultForAz)"
ud=$(printf '#!/bin/bash\necho ECS_CLUSTER=tour-asg-cluster >> /etc/ecs/ecs.config\n' | base64 -w0)
printf '{"ImageId":"%s","InstanceType":"m5.large","UserData":"%s","TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"from","Value":"template"}]}]}' "$ami" "$ud" >"$WORK/lt.json"
lt=$(q ec2 create-launch-template --launch-template-name tour-lt --launch-template-data "file://$WORK/lt.json" \
  --tag-specifications 'ResourceType=launch-template,Tags=[{Key=tour,Value=asg}]' --query LaunchTemplate.LaunchTemplateId)
[[ "$lt" == lt-* ]] || fail "launch template id: $lt"
fails InvalidLaunchTemplateName.AlreadyExistsException ec2 create-launch-template --launch-template-name tour-lt --launch-template-data "file://$WORK/lt.json"
fails InvalidAMIID.NotFound ec2 create-launch-template --launch-template-name tour-bad --launch-template-data '{"ImageId":"ami-0123456789abcdef0"}'
is "$(q ec2 create-launch-template-version --launch-template-id "$lt" --source-version 1 --launch-template-data '{"InstanceType":"m5.xlarge"}' --query LaunchTemplateVersion.VersionNumber)" 2 "ec2 create-launch-template-version"
fails InvalidLaunchTemplateId.VersionNotFound ec2 create-launch-template-version --launch-template-id "$lt" --source-version 9 --launch-template-data '{}'
call ec2 create-launch-template-version --launch-template-name tour-lt --launch-template-data "file://$WORK/lt.json" >/dev/null
is "$(q ec2 modify-launch-template --launch-template-id "$lt" --default-version 2 --query LaunchTemplate.DefaultVersionNumber)" 2 "ec2 modify-launch-template"
fails InvalidLaunchTemplateName.NotFoundException ec2 modify-launch-template --launch-template-name tour-nope --default-version 1
is "$(q ec2 describe-launch-templates --filters Name=tag:tour,Values=asg --query 'LaunchTemplates[0].LaunchTemplateName')" tour-lt "ec2 describe-launch-templates tag filter"
fails InvalidLaunchTemplateId.Malformed ec2 describe-launch-templates --launch-template-ids lt-1
is "$(q ec2 describe-launch-template-versions --launch-template-id "$lt" --versions '$Latest' '$Default' --query 'join(`,`, LaunchTemplateVersions[].to_string(VersionNumber))')" 3,2 "ec2 describe-launch-template-versions \$Latest \$Default"
is "$(q ec2 describe-launch-template-versions --launch-template-id "$lt" --min-version 1 --max-version 2 --query 'length(LaunchTemplateVersions)')" 2 "ec2 describe-launch-template-versions min/max"
fails InvalidLaunchTemplateId.NotFound ec2 describe-launch-template-versions --launch-template-id lt-0123456789abcdef0
lt_inst=$(q ec2 run-instances --launch-template LaunchTemplateId="$lt",Version=1 --count 1 --subnet-id "${subnets##*,}" --query 'Instances[0].InstanceId')
is "$(q ec2 describe-instances --instance-ids "$lt_inst" --query 'Reservations[0].Instances[0].[InstanceType, Tags[?Key==`from`].Value | [0]]' | tr '\t' ' ')" "m5.large template" "ec2 run-instances --launch-template"
fails InvalidLaunchTemplateId.VersionNotFound ec2 run-instances --launch-template LaunchTemplateId="$lt",Version=7 --count 1
call ec2 terminate-instances --instance-ids "$lt_inst" >/dev/null
is "$(q ec2 delete-launch-template-versions --launch-template-id "$lt" --versions 1 2 --query 'join(`,`, [to_string(SuccessfullyDeletedLaunchTemplateVersions[0].VersionNumber), UnsuccessfullyDeletedLaunchTemplateVersions[0].ResponseError.Code])')" 1,unexpectedError "ec2 delete-launch-template-versions (the default one stays)"
call ec2 create-launch-template --launch-template-name tour-lt-tmp --launch-template-data "{\"ImageId\":\"$ami\"}" >/dev/null
is "$(q ec2 delete-launch-template --launch-template-name tour-lt-tmp --query LaunchTemplate.LaunchTemplateName)" tour-lt-tmp "ec2 delete-launch-template"
fails InvalidLaunchTemplateName.NotFoundException ec2 delete-launch-template --launch-template-name tour-lt-tmp

echo "== autoscaling"
call autoscaling create-auto-scaling-group --auto-scaling-group-name tour-asg \
  --launch-template LaunchTemplateId="$lt",Version='$Latest' --min-size 1 --max-size 4 --desired-capacity 2 \
  --vpc-zone-identifier "$subnets" --health-check-type EC2 --health-check-grace-period 60 --default-cooldown 120 \
  --new-instances-protected-from-scale-in --tags Key=team,Value=tour,PropagateAtLaunch=true Key=cost,Value=x,PropagateAtLaunch=false
fails AlreadyExists autoscaling create-auto-scaling-group --auto-scaling-group-name tour-asg --launch-template LaunchTemplateId="$lt" --min-size 0 --max-size 1 --vpc-zone-identifier "$subnets"
fails ValidationError autoscaling create-auto-scaling-group --auto-scaling-group-name tour-bad --launch-template LaunchTemplateId="$lt" --min-size 3 --max-size 1 --vpc-zone-identifier "$subnets"
wait_for "autoscaling group InService" 2 autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query 'length(AutoScalingGroups[0].Instances[?LifecycleState==`InService`])'
is "$(q autoscaling describe-auto-scaling-groups --filters Name=tag:team,Values=tour --query 'AutoScalingGroups[0].AutoScalingGroupARN' | cut -d: -f1-6)" "arn:aws:autoscaling:us-east-1:$ACCOUNT:autoScalingGroup" "autoscaling describe-auto-scaling-groups tag filter and ARN"
fails ValidationError autoscaling describe-auto-scaling-groups --max-records 101
first=$(q autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query 'AutoScalingGroups[0].Instances[0].InstanceId')
second=$(q autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query 'AutoScalingGroups[0].Instances[1].InstanceId')
is "$(q ec2 describe-instances --instance-ids "$first" --query 'Reservations[0].Instances[0].Tags[?Key==`aws:autoscaling:groupName`].Value | [0]')" tour-asg "autoscaling instance tag aws:autoscaling:groupName"
is "$(q ec2 describe-instances --instance-ids "$first" --query 'Reservations[0].Instances[0].Tags[?Key==`team`].Value | [0]')" tour "autoscaling PropagateAtLaunch tag on the instance"
is "$(q autoscaling describe-auto-scaling-instances --instance-ids "$first" --query 'AutoScalingInstances[0].[HealthStatus, ProtectedFromScaleIn]' | tr '\t' ' ')" "HEALTHY True" "autoscaling describe-auto-scaling-instances"
fails ValidationError autoscaling describe-auto-scaling-instances --max-records 51
# All protected: scaling in to 1 waits until one loses its protection.
call autoscaling update-auto-scaling-group --auto-scaling-group-name tour-asg --desired-capacity 1
is "$(q autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query 'length(AutoScalingGroups[0].Instances[?LifecycleState==`InService`])')" 2 "autoscaling scale-in waits for protected instances"
fails ValidationError autoscaling update-auto-scaling-group --auto-scaling-group-name tour-nope --desired-capacity 1
call autoscaling set-instance-protection --auto-scaling-group-name tour-asg --instance-ids "$second" --no-protected-from-scale-in
fails ValidationError autoscaling set-instance-protection --auto-scaling-group-name tour-asg --instance-ids i-0123456789abcdef0 --protected-from-scale-in
wait_for "autoscaling scaled in, keeping the protected instance" "$first" autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query 'join(`,`, AutoScalingGroups[0].Instances[].InstanceId)'
fails ValidationError autoscaling terminate-instance-in-auto-scaling-group --instance-id "$first" --should-decrement-desired-capacity
is "$(q autoscaling terminate-instance-in-auto-scaling-group --instance-id "$first" --no-should-decrement-desired-capacity --query Activity.Description)" "Terminating EC2 instance: $first" "autoscaling terminate-instance-in-auto-scaling-group"
wait_for "autoscaling replaced the terminated instance" 1 autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query "length(AutoScalingGroups[0].Instances[?LifecycleState=='InService' && InstanceId!='$first'])"
call autoscaling create-or-update-tags --tags ResourceId=tour-asg,ResourceType=auto-scaling-group,Key=env,Value=tour,PropagateAtLaunch=false
fails ValidationError autoscaling create-or-update-tags --tags ResourceId=tour-nope,ResourceType=auto-scaling-group,Key=env,Value=x,PropagateAtLaunch=false
is "$(q autoscaling describe-tags --filters Name=auto-scaling-group,Values=tour-asg Name=propagate-at-launch,Values=false --query 'join(`,`, Tags[].Key)')" cost,env "autoscaling describe-tags filters"
fails ValidationError autoscaling describe-tags --filters Name=bogus,Values=x
call autoscaling delete-tags --tags ResourceId=tour-asg,ResourceType=auto-scaling-group,Key=env
is "$(q autoscaling describe-tags --filters Name=key,Values=env --query 'length(Tags)')" 0 "autoscaling delete-tags"
fails ValidationError autoscaling delete-tags --tags ResourceId=tour-nope,ResourceType=auto-scaling-group,Key=env
q autoscaling describe-scaling-activities --auto-scaling-group-name tour-asg --query 'Activities[].Description' | tr '\t' '\n' | grep -q "^Launching a new EC2 instance: i-" || fail "autoscaling describe-scaling-activities"
echo "ok   autoscaling describe-scaling-activities"
fails ValidationError autoscaling describe-scaling-activities --auto-scaling-group-name tour-nope
fails ResourceInUse autoscaling delete-auto-scaling-group --auto-scaling-group-name tour-asg
call autoscaling delete-auto-scaling-group --auto-scaling-group-name tour-asg --force-delete
wait_for "autoscaling group deleted" 0 autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-asg --query 'length(AutoScalingGroups)'
fails ValidationError autoscaling delete-auto-scaling-group --auto-scaling-group-name tour-asg
call ec2 delete-launch-template --launch-template-id "$lt" >/dev/null
}

tour_elbv2() {
echo "== elbv2"
VPC=$(q ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId')
read -r SUBNET_A SUBNET_B <<<"$(q ec2 describe-subnets --filters Name=vpc-id,Values="$VPC" Name=default-for-az,Values=true --query 'sort_by(Subnets, &AvailabilityZone)[0:2].SubnetId')"
[[ "$SUBNET_A" == subnet-* && "$SUBNET_B" == subnet-* ]] || fail "elbv2: two default subnets, got '$SUBNET_A' '$SUBNET_B'"
fails ValidationError elbv2 create-load-balancer --name tour-alb --subnets "$SUBNET_A"
LB=$(q elbv2 create-load-balancer --name tour-alb --subnets "$SUBNET_A" "$SUBNET_B" --tags Key=tour,Value=elbv2 --query 'LoadBalancers[0].LoadBalancerArn')
[[ "$LB" == arn:aws:elasticloadbalancing:us-east-1:$ACCOUNT:loadbalancer/app/tour-alb/* ]] || fail "elbv2 load balancer ARN: $LB"
[[ "$(q elbv2 describe-load-balancers --names tour-alb --query 'LoadBalancers[0].DNSName')" =~ ^tour-alb-[0-9]+\.us-east-1\.elb\.amazonaws\.com$ ]] || fail "elbv2 DNS name"
echo "ok   elbv2 create-load-balancer (ARN, DNS name)"
wait_for "elbv2 load balancer active" active elbv2 describe-load-balancers --load-balancer-arns "$LB" --query 'LoadBalancers[0].State.Code'
is "$(q elbv2 create-load-balancer --name tour-alb --subnets "$SUBNET_A" "$SUBNET_B" --query 'LoadBalancers[0].LoadBalancerArn')" "$LB" "elbv2 create-load-balancer again (idempotent)"
fails DuplicateLoadBalancerName elbv2 create-load-balancer --name tour-alb --subnets "$SUBNET_A" "$SUBNET_B" --scheme internal
fails LoadBalancerNotFound elbv2 describe-load-balancers --names no-such-alb

TG=$(q elbv2 create-target-group --name tour-tg --protocol HTTP --port 80 --vpc-id "$VPC" --health-check-path / --matcher HttpCode=200 --query 'TargetGroups[0].TargetGroupArn')
[[ "$TG" == *":targetgroup/tour-tg/"* ]] || fail "elbv2 target group ARN: $TG"
fails DuplicateTargetGroupName elbv2 create-target-group --name tour-tg --protocol HTTP --port 8080 --vpc-id "$VPC"
is "$(q elbv2 describe-target-groups --names tour-tg --query 'TargetGroups[0].HealthyThresholdCount')" 5 "elbv2 describe-target-groups (defaults)"
is "$(q elbv2 modify-target-group --target-group-arn "$TG" --health-check-interval-seconds 10 --query 'TargetGroups[0].HealthCheckIntervalSeconds')" 10 "elbv2 modify-target-group"
call elbv2 modify-target-group-attributes --target-group-arn "$TG" --attributes Key=deregistration_delay.timeout_seconds,Value=5 >/dev/null
is "$(q elbv2 describe-target-group-attributes --target-group-arn "$TG" --query "Attributes[?Key=='deregistration_delay.timeout_seconds'].Value | [0]")" 5 "elbv2 target group attributes"

AMI_ELB=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id --query Parameter.Value)
INSTANCE=$(q ec2 run-instances --image-id "$AMI_ELB" --instance-type t3.micro --subnet-id "$SUBNET_A" --query 'Instances[0].InstanceId')
wait_for "elbv2 target instance running" running ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name'
fails InvalidTarget elbv2 register-targets --target-group-arn "$TG" --targets Id=i-0123456789abcdef0
call elbv2 register-targets --target-group-arn "$TG" --targets Id="$INSTANCE",Port=32768
is "$(q elbv2 describe-target-health --target-group-arn "$TG" --query 'TargetHealthDescriptions[0].TargetHealth.Reason')" Target.NotInUse "elbv2 describe-target-health (no listener: unused)"
LISTENER=$(q elbv2 create-listener --load-balancer-arn "$LB" --protocol HTTP --port 80 --default-actions Type=forward,TargetGroupArn="$TG" --query 'Listeners[0].ListenerArn')
[[ "$LISTENER" == *":listener/app/tour-alb/"* ]] || fail "elbv2 listener ARN: $LISTENER"
fails DuplicateListener elbv2 create-listener --load-balancer-arn "$LB" --protocol HTTP --port 80 --default-actions Type=fixed-response,FixedResponseConfig={StatusCode=404}
is "$(q elbv2 describe-listeners --load-balancer-arn "$LB" --query 'Listeners[0].Port')" 80 "elbv2 describe-listeners"
is "$(q elbv2 modify-listener --listener-arn "$LISTENER" --port 8080 --query 'Listeners[0].Port')" 8080 "elbv2 modify-listener"
# Nothing answers on the instance's port 32768: health checks fail.
wait_for "elbv2 target unhealthy (nothing listening)" Target.FailedHealthChecks elbv2 describe-target-health --target-group-arn "$TG" --query 'TargetHealthDescriptions[0].TargetHealth.Reason'
call elbv2 deregister-targets --target-group-arn "$TG" --targets Id="$INSTANCE",Port=32768
wait_for "elbv2 deregistered target drained" 0 elbv2 describe-target-health --target-group-arn "$TG" --query 'length(TargetHealthDescriptions)'

call elbv2 add-tags --resource-arns "$TG" --tags Key=a,Value=1 Key=b,Value=2
call elbv2 remove-tags --resource-arns "$TG" --tag-keys a
is "$(q elbv2 describe-tags --resource-arns "$TG" --query 'TagDescriptions[0].Tags[].Key | join(`,`, @)')" b "elbv2 add-tags / remove-tags / describe-tags"
fails ResourceInUse elbv2 delete-target-group --target-group-arn "$TG"
call elbv2 delete-listener --listener-arn "$LISTENER"
fails ListenerNotFound elbv2 delete-listener --listener-arn "$LISTENER"
call elbv2 delete-target-group --target-group-arn "$TG"
fails TargetGroupNotFound elbv2 describe-target-groups --target-group-arns "$TG"
call elbv2 delete-load-balancer --load-balancer-arn "$LB"
is "$(q elbv2 describe-load-balancers --query 'length(LoadBalancers[?LoadBalancerName==`tour-alb`])')" 0 "elbv2 delete-load-balancer"
call ec2 terminate-instances --instance-ids "$INSTANCE" >/dev/null
}

tour_capacity_providers() {
echo "== ecs capacity providers"
is "$(q ecs describe-capacity-providers --query 'capacityProviders[].name | join(`,`, @)')" FARGATE,FARGATE_SPOT "ecs describe-capacity-providers (built-in)"
fails ClientException ecs create-capacity-provider --name aws-tour --auto-scaling-group-provider autoScalingGroupArn=tour-asg
fails ClientException ecs create-capacity-provider --name tour-cp --auto-scaling-group-provider autoScalingGroupArn=no-such-asg
fails ClientException ecs update-capacity-provider --name tour-cp --auto-scaling-group-provider managedTerminationProtection=DISABLED
fails ClientException ecs delete-capacity-provider --capacity-provider tour-cp
fails InvalidParameterException ecs delete-capacity-provider --capacity-provider FARGATE
call ecs create-cluster --cluster-name tour-cp-cluster >/dev/null
fails InvalidParameterException ecs put-cluster-capacity-providers --cluster tour-cp-cluster --capacity-providers tour-cp --default-capacity-provider-strategy capacityProvider=tour-cp,weight=1
call ecs put-cluster-capacity-providers --cluster tour-cp-cluster --capacity-providers FARGATE FARGATE_SPOT \
  --default-capacity-provider-strategy capacityProvider=FARGATE,weight=1 >/dev/null
is "$(q ecs describe-clusters --clusters tour-cp-cluster --query 'clusters[0].capacityProviders | join(`,`, @)')" FARGATE,FARGATE_SPOT "ecs put-cluster-capacity-providers"
is "$(q ecs describe-clusters --clusters tour-cp-cluster --query 'clusters[0].defaultCapacityProviderStrategy[0].capacityProvider')" FARGATE "ecs cluster default strategy"
call ecs put-cluster-capacity-providers --cli-input-json '{"cluster":"tour-cp-cluster","capacityProviders":[],"defaultCapacityProviderStrategy":[]}' >/dev/null
is "$(q ecs describe-clusters --clusters tour-cp-cluster --query 'length(clusters[0].capacityProviders)')" 0 "ecs put-cluster-capacity-providers (none)"
# A real one, over an (empty) Auto Scaling group of this tour's own.
local cp_ami cp_subnets cp_lt cp_asg cp_arn
cp_ami=$(q ssm get-parameter --name /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id --query Parameter.Value)
cp_subnets=$(q ec2 describe-subnets --filters Name=default-for-az,Values=true --query 'join(`,`, sort(Subnets[].SubnetId))')
cp_lt=$(q ec2 create-launch-template --launch-template-name tour-cp-lt --launch-template-data "{\"ImageId\":\"$cp_ami\",\"InstanceType\":\"m5.large\"}" --query LaunchTemplate.LaunchTemplateId)
call autoscaling create-auto-scaling-group --auto-scaling-group-name tour-cp-asg --launch-template LaunchTemplateId="$cp_lt" \
  --min-size 0 --max-size 0 --vpc-zone-identifier "$cp_subnets" --new-instances-protected-from-scale-in
cp_asg=$(q autoscaling describe-auto-scaling-groups --auto-scaling-group-names tour-cp-asg --query 'AutoScalingGroups[0].AutoScalingGroupARN')
cp_arn=$(q ecs create-capacity-provider --name tour-cp --tags key=tour,value=cp \
  --auto-scaling-group-provider "autoScalingGroupArn=$cp_asg,managedScaling={status=ENABLED,targetCapacity=100},managedTerminationProtection=ENABLED" \
  --query capacityProvider.capacityProviderArn)
[[ "$cp_arn" == arn:aws:ecs:us-east-1:$ACCOUNT:capacity-provider/tour-cp ]] || fail "ecs capacity provider ARN: $cp_arn"
fails ClientException ecs create-capacity-provider --name tour-cp-2 --auto-scaling-group-provider "autoScalingGroupArn=$cp_asg"
is "$(q ecs describe-capacity-providers --capacity-providers tour-cp --include TAGS --query 'capacityProviders[0].tags[0].value')" cp "ecs describe-capacity-providers --include TAGS"
is "$(q ecs update-capacity-provider --name tour-cp --auto-scaling-group-provider 'managedScaling={status=ENABLED,targetCapacity=90}' --query capacityProvider.autoScalingGroupProvider.managedScaling.targetCapacity)" 90 "ecs update-capacity-provider"
call ecs put-cluster-capacity-providers --cluster tour-cp-cluster --capacity-providers tour-cp --default-capacity-provider-strategy capacityProvider=tour-cp,weight=1 >/dev/null
is "$(q ecs describe-clusters --clusters tour-cp-cluster --query 'clusters[0].defaultCapacityProviderStrategy[0].capacityProvider')" tour-cp "ecs put-cluster-capacity-providers (an Auto Scaling provider)"
call ecs put-cluster-capacity-providers --cli-input-json '{"cluster":"tour-cp-cluster","capacityProviders":[],"defaultCapacityProviderStrategy":[]}' >/dev/null
call ecs delete-capacity-provider --capacity-provider tour-cp >/dev/null
wait_for "ecs capacity provider deleted" INACTIVE ecs describe-capacity-providers --capacity-providers tour-cp --query 'capacityProviders[0].status'
call autoscaling delete-auto-scaling-group --auto-scaling-group-name tour-cp-asg
call ec2 delete-launch-template --launch-template-id "$cp_lt" >/dev/null
call ecs delete-cluster --cluster tour-cp-cluster >/dev/null
}

ACCOUNT=$(q sts get-caller-identity --query Account)
is "$ACCOUNT" 123456789012 "sts get-caller-identity account"

# Run the independent sections in parallel, each with its output in a file; fail if any fails.
pids=()
for section in tour_sts_ssm tour_iam_ec2_ecs tour_logs tour_ecr tour_tagging tour_autoscaling tour_elbv2 tour_capacity_providers; do
  ("$section") >"$WORK/$section.log" 2>&1 &
  pids+=("$!")
done
status=0
sections=(tour_sts_ssm tour_iam_ec2_ecs tour_logs tour_ecr tour_tagging tour_autoscaling tour_elbv2 tour_capacity_providers)
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then status=1; fi
  cat "$WORK/${sections[$i]}.log"
done
[ "$status" = 0 ] || fail "some sections failed (see above)"
echo "tour complete"

# ---------------------------------------------------------------------------------------------------
# Logs: metric filters, Logs Insights queries and query definitions (issue 21). Self-contained: its own
# log group, run after the sections above.
tour_logs_insights() {
echo "== logs: metric filters, Insights"
local g=/tour/insights now events qid out
call logs create-log-group --log-group-name "$g"
call logs create-log-stream --log-group-name "$g" --log-stream-name web-httpd-access.log
# httpd's access line with %D (microseconds) last, as the lab logs it: 7 x 200, 3 x 501, 2 x 404.
now=$(($(date +%s) * 1000))
events="$WORK/insights-events.json"
python3 - "$now" >"$events" <<'PY'
import json, sys
now = int(sys.argv[1])
statuses = [200] * 7 + [501] * 3 + [404] * 2
print(json.dumps([{"timestamp": now - 60000 + i * 1000,
  "message": f'10.0.0.9 - - [07/Dec/2026:18:00:{i:02d} +0000] "{"PATCH" if s == 501 else "GET"} /p{i} HTTP/1.1" {s} {100 + i} "-" "curl/8.5.0" {1000 * (i + 1)}'}
  for i, s in enumerate(statuses)]))
PY
call logs put-log-events --log-group-name "$g" --log-stream-name web-httpd-access.log --log-events "file://$events" >/dev/null

# metric filters: put (with a bad pattern refused), describe, test, delete
local pattern='[host, ident, user, time, request, status, bytes, referer, agent, duration]'
fails InvalidParameterException logs put-metric-filter --log-group-name "$g" --filter-name bad --filter-pattern '[status = ]' \
  --metric-transformations metricName=x,metricNamespace=Tour,metricValue=1
call logs put-metric-filter --log-group-name "$g" --filter-name tour-5xx --filter-pattern "${pattern/status,/status = 5*,}" \
  --metric-transformations metricName=5xx,metricNamespace=Tour,metricValue=1,defaultValue=0
call logs put-metric-filter --log-group-name "$g" --filter-name tour-duration --filter-pattern "$pattern" \
  --metric-transformations metricName=Duration,metricNamespace=Tour,metricValue='$duration',unit=Microseconds
is "$(q logs describe-metric-filters --log-group-name "$g" --filter-name-prefix tour- --query 'metricFilters[].filterName | join(`,`, @)')" tour-5xx,tour-duration "logs describe-metric-filters"
is "$(q logs describe-metric-filters --metric-name Duration --metric-namespace Tour --query 'metricFilters[0].metricTransformations[0].unit')" Microseconds "logs describe-metric-filters by metric"
is "$(q logs describe-log-groups --log-group-name-prefix "$g" --query 'logGroups[0].metricFilterCount')" 2 "logs describe-log-groups metricFilterCount"
is "$(q logs test-metric-filter --filter-pattern "${pattern/status,/status = 5*,}" \
  --log-event-messages '10.0.0.9 - - [07/Dec/2026:18:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" 10' '10.0.0.9 - - [07/Dec/2026:18:00:01 +0000] "PATCH / HTTP/1.1" 501 5 "-" "curl" 20' \
  --query 'matches[].[eventNumber, extractedValues."$status"] | [0] | join(`:`, [to_string([0]), [1]])')" 2:501 "logs test-metric-filter"
call logs delete-metric-filter --log-group-name "$g" --filter-name tour-duration
fails ResourceNotFoundException logs delete-metric-filter --log-group-name "$g" --filter-name tour-duration
is "$(q logs filter-log-events --log-group-name "$g" --filter-pattern "${pattern/status,/status = 404,}" --query 'length(events)')" 2 "logs filter-log-events with a space-delimited pattern"

# Logs Insights: stats count(*) by status answers exactly what was put (issue 21, acceptance 5)
local query='parse @message /" (?<status>\d{3}) (?<bytes>\d+|-) "[^"]*" "[^"]*" (?<duration>\d+)$/ | stats count(*) by status | sort status asc'
fails MalformedQueryException logs start-query --log-group-name "$g" --start-time $((now / 1000 - 120)) --end-time $((now / 1000)) --query-string 'fields @message | frobnicate'
qid=$(q logs start-query --log-group-name "$g" --start-time $((now / 1000 - 120)) --end-time $((now / 1000)) --query-string "$query" --query queryId)
wait_for "logs get-query-results: Complete" Complete logs get-query-results --query-id "$qid" --query status
out=$(call logs get-query-results --query-id "$qid")
is "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(" ".join(":".join(f["value"] for f in row) for row in r["results"]), r["statistics"]["recordsMatched"])' "$out")" "200:7 404:2 501:3 12" "logs start-query: stats count(*) by status counts what was put"
is "$(q logs describe-queries --log-group-name "$g" --query "queries[?queryId=='$qid'].status | [0]")" Complete "logs describe-queries"
is "$(q logs stop-query --query-id "$qid" --query success)" False "logs stop-query of a query already complete"
fails ResourceNotFoundException logs get-query-results --query-id 00000000-0000-0000-0000-000000000000

# query definitions: not taggable; a stack owns its own by name prefix
local def
def=$(q logs put-query-definition --name tour/insights/status --log-group-names "$g" --query-string "$query" --query queryDefinitionId)
is "$(q logs put-query-definition --query-definition-id "$def" --name tour/insights/status --query-string 'stats count(*)' --query queryDefinitionId)" "$def" "logs put-query-definition updates by id"
is "$(q logs describe-query-definitions --query-definition-name-prefix tour/insights/ --query 'queryDefinitions[0].queryString')" 'stats count(*)' "logs describe-query-definitions"
is "$(q logs delete-query-definition --query-definition-id "$def" --query success)" True "logs delete-query-definition"
fails ResourceNotFoundException logs delete-query-definition --query-definition-id "$def"
call logs delete-log-group --log-group-name "$g"
is "$(q logs describe-metric-filters --metric-name 5xx --metric-namespace Tour --query 'length(metricFilters)')" 0 "metric filters go with their log group"
}
tour_logs_insights
echo "tour logs-insights complete"
