#!/bin/bash
# ecs-cwlogs: join this ECS-optimized instance to cluster {{clusterName}} (stack {{stack}}).
# The ECS agent reads /etc/ecs/ecs.config when it starts; user data runs before it does.
set -euo pipefail
# Block containers on the docker bridge from the instance metadata service (and so from the
# instance role's credentials), as the ECS developer guide gives it for task IAM roles, and save the
# rules so they survive a reboot. This comes first, before the ECS agent can start a task. The host
# itself (the ECS agent, this script) is not affected, and IMDS stays on (hop limit 1) for it.
iptables --new-chain DOCKER-USER 2>/dev/null || true
iptables --check DOCKER-USER --in-interface docker+ --destination 169.254.169.254/32 --jump DROP 2>/dev/null \
  || iptables --insert DOCKER-USER 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP
# Saving is worth a warning, not the instance: a failure here leaves the rule in place until a reboot.
if [ -e /usr/lib/systemd/system/iptables.service ] || dnf install -y iptables-services || yum install -y iptables-services; then
  mkdir -p /etc/sysconfig
  { iptables-save | tee /etc/sysconfig/iptables >/dev/null && systemctl enable --now iptables; } \
    || echo 'ecs-cwlogs: the iptables rules could not be saved: the IMDS block holds until the next reboot' >&2
else
  echo 'ecs-cwlogs: iptables-services is not installable: the IMDS block holds until the next reboot' >&2
fi

mkdir -p /etc/ecs
touch /etc/ecs/ecs.config
# Idempotent: replace any ECS_CLUSTER / ECS_ENABLE_TASK_IAM_ROLE line, then append ours. Task IAM
# roles: the logging container gets its credentials (the task role) from the ECS agent's endpoint
# 169.254.170.2, never from the instance role.
sed -i -e '/^ECS_CLUSTER=/d' -e '/^ECS_ENABLE_TASK_IAM_ROLE=/d' /etc/ecs/ecs.config
echo 'ECS_CLUSTER={{clusterName}}' >> /etc/ecs/ecs.config
echo 'ECS_ENABLE_TASK_IAM_ROLE=true' >> /etc/ecs/ecs.config

# The host facts the log stream names need ({instance_id}-{hostname}-{ip_address}), read here on the
# host from IMDSv2 and written for the logging container, which mounts the directory read-only
# (containers cannot reach instance metadata: see above). Written once, at first boot: these facts
# do not change while the instance lives.
facts_dir=/var/lib/ecs-cwlogs/host
mkdir -p "$facts_dir"
imds=http://169.254.169.254
token="$(curl -fsS --retry 5 --retry-connrefused -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token")"
md() { curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/$1"; }
{
  echo "instance_id=$(md instance-id)"
  echo "hostname=$(md local-hostname)"
  echo "ip_address=$(md local-ipv4)"
} > "$facts_dir/facts.tmp"
chmod 0644 "$facts_dir/facts.tmp"
mv "$facts_dir/facts.tmp" "$facts_dir/facts"
