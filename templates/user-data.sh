#!/bin/bash
# ecs-cwlogs: join this ECS-optimized instance to cluster {{clusterName}} (stack {{stack}}).
# The ECS agent reads /etc/ecs/ecs.config when it starts; user data runs before it does.
set -euo pipefail
mkdir -p /etc/ecs
touch /etc/ecs/ecs.config
# Idempotent: replace any ECS_CLUSTER line, then append ours.
sed -i '/^ECS_CLUSTER=/d' /etc/ecs/ecs.config
echo 'ECS_CLUSTER={{clusterName}}' >> /etc/ecs/ecs.config
