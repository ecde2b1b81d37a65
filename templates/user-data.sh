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

# dockerd's log, for the logging container. On AL2023 dockerd logs to journald only (the docker
# unit has no log file; `journalctl -u docker`), so a unit of ours follows its journal and appends
# each entry, as journalctl's short-iso line, to /var/log/ecs-cwlogs/docker.log, which the task
# definition mounts read-only into the logging container (stream <prefix>-docker). The journal
# cursor of the last entry written is kept in /var/lib/ecs-cwlogs/docker-journal.cursor, written
# after each batch and on stop, so a restart (of the unit or the instance) resumes after it: no
# entry lost, none written twice (a crash between a write and the cursor's can repeat that batch).
# logrotate renames the file (the agent follows a renamed file to its end, then the new one).
mkdir -p /var/log/ecs-cwlogs /usr/local/libexec/ecs-cwlogs /etc/systemd/system /etc/logrotate.d
cat > /usr/local/libexec/ecs-cwlogs/docker-journal <<'FORWARD'
#!/usr/bin/python3
"""ecs-cwlogs: follows dockerd's journal into /var/log/ecs-cwlogs/docker.log (see the user data)."""
import json, os, signal, subprocess, sys, time
OUT = os.environ.get('ECS_CWLOGS_DOCKER_LOG', '/var/log/ecs-cwlogs/docker.log')
CURSOR = os.environ.get('ECS_CWLOGS_DOCKER_CURSOR', '/var/lib/ecs-cwlogs/docker-journal.cursor')
UNIT = os.environ.get('ECS_CWLOGS_DOCKER_UNIT', 'docker.service')
os.makedirs(os.path.dirname(OUT), exist_ok=True)
os.makedirs(os.path.dirname(CURSOR), exist_ok=True)
stopping = False
def stop(*_):
    global stopping
    stopping = True
    if journal.poll() is None:
        journal.terminate()
def line(e):
    """One entry as journalctl -o short-iso prints it: time host ident[pid]: message."""
    t = time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime(int(e.get('__REALTIME_TIMESTAMP', '0')) / 1e6))
    msg = e.get('MESSAGE', '')
    if isinstance(msg, list):  # journald gives non-UTF-8 messages as byte arrays
        msg = bytes(msg).decode('utf-8', 'replace')
    ident = e.get('SYSLOG_IDENTIFIER') or e.get('_COMM') or 'dockerd'
    pid = e.get('_PID')
    return '%s %s %s%s: %s\n' % (t, e.get('_HOSTNAME', '-'), ident, '[%s]' % pid if pid else '', msg.replace('\n', ' '))
def save(cursor):
    with open(CURSOR + '.tmp', 'w') as f:
        f.write(cursor)
        f.flush()
        os.fsync(f.fileno())
    os.replace(CURSOR + '.tmp', CURSOR)
args = ['journalctl', '-u', UNIT, '-o', 'json', '-f', '--no-tail', '--no-pager']
try:
    with open(CURSOR) as f:
        cursor = f.read().strip()
except OSError:
    cursor = ''
if cursor:
    args += ['--after-cursor', cursor]
journal = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, bufsize=1)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
for raw in journal.stdout:
    try:
        e = json.loads(raw)
    except ValueError:
        continue
    # One write per entry (O_APPEND), the file opened each time: logrotate may have renamed it.
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line(e).encode('utf-8'))
    finally:
        os.close(fd)
    if e.get('__CURSOR'):
        save(e['__CURSOR'])
journal.wait()
sys.exit(0 if stopping else 1)
FORWARD
chmod 0755 /usr/local/libexec/ecs-cwlogs/docker-journal
cat > /etc/systemd/system/ecs-cwlogs-docker-journal.service <<'UNIT'
[Unit]
Description=ecs-cwlogs: dockerd's journal to /var/log/ecs-cwlogs/docker.log
After=systemd-journald.service
[Service]
ExecStart=/usr/local/libexec/ecs-cwlogs/docker-journal
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/logrotate.d/ecs-cwlogs <<'ROTATE'
/var/log/ecs-cwlogs/docker.log {
    daily
    maxsize 20M
    rotate 2
    missingok
    notifempty
    nocompress
    nocreate
}
ROTATE
systemctl daemon-reload
systemctl enable --now ecs-cwlogs-docker-journal.service \
  || echo 'ecs-cwlogs: the docker journal forwarder could not be started: no docker stream' >&2
