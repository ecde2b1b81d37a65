# The httpd container's start script (the task definition runs it as `/bin/sh -c <this text>`).
# Made for the official httpd:2.4 image (/usr/local/apache2, httpd-foreground); a Debian-style
# apache2 layout (/etc/apache2, apachectl) works too. It installs nothing and waits for nothing:
# httpd is exec'd within the first second.
#   - every access line (local6) and error line (local7) goes once, over TCP, to the logging
#     container's rsyslog through `logger -T -t httpd`; the image's own CustomLog/TransferLog/
#     ErrorLog lines (httpd:2.4 sends them to /proc/self/fd/1 and 2) are commented out, so nothing
#     is written twice. logger runs in a restart loop (see pipe below), so it outlives an rsyslog
#     restart in the logging container. The access line's fields: docs/log-format.md (its last, %D,
#     is the time taken in microseconds: src/logs/queries.ts and the metric filters read it).
#   - a local index page is written first; the lab's content (the ECS developer guide's welcome
#     page) is fetched in the background with what httpd:2.4 has (openssl s_client, timeout,
#     head), bounded to 20 s and 2 MB, and only a complete 200 answer is kept as Welcome.html.
# Nothing here can keep httpd from starting: a step that fails (e.g. an app image whose conf is not
# writable) says so and httpd starts anyway.
set -u
if [ -f /usr/local/apache2/conf/httpd.conf ]; then
  root=/usr/local/apache2; conf="$root/conf/httpd.conf"; docroot="$root/htdocs"
else
  root=/etc/apache2; conf="$root/apache2.conf"; docroot=/var/www/html
fi
logger="$(command -v logger || echo /usr/bin/logger)"
ours="$root/ecs-cwlogs.conf"
# A piped logger: logger reconnects when its TCP connection breaks but exits when rsyslog cannot be
# reached at that moment; the loop starts it again (lines wait in the pipe meanwhile). Apache
# would restart a dead CustomLog logger itself, but not a dead ErrorLog one.
pipe() { printf 'while :; do %s -t httpd -p %s.info -n cloudwatchlogs -P 514 -T -S 16384; sleep 1; done' "$logger" "$1"; }
# Idempotent (a restarted container runs this again): the image's log directives are commented
# out once, our file is rewritten and included once.
find "$root" -name '*.conf' ! -path "$ours" -type f -exec sed -i -E 's/^([[:space:]]*(CustomLog|TransferLog|ErrorLog)[[:space:]])/#ecs-cwlogs# \1/' {} +
{ cat > "$ours" <<CONF
ServerName $(cat /proc/sys/kernel/hostname)
LogFormat "%v %h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D" ecs_cwlogs
CustomLog "|\$$(pipe local6)" ecs_cwlogs
ErrorLogFormat "%v [%t] [%m:%l] [pid %P] [client\\ %a] %M"
ErrorLog "|\$$(pipe local7)"
# A missing page is an error line, as in the lab's Apache 2.2 (2.4 logs "File does not exist" at info).
LogLevel warn core:info
CONF
} && { grep -qxF "Include $ours" "$conf" || printf '\nInclude %s\n' "$ours" >> "$conf"; } \
  || echo "ecs-cwlogs: cannot write $ours or $conf: httpd logs where its image says, not to cloudwatchlogs" >&2
mkdir -p "$docroot" && printf '<html><body><h1>ecs-cwlogs</h1><p>Served by httpd on ECS; its logs go to CloudWatch Logs through rsyslog.</p><p><a href="Welcome.html">The ECS developer guide</a> (if it could be fetched when this container started).</p></body></html>\n' > "$docroot/index.html" \
  || echo "ecs-cwlogs: cannot write $docroot/index.html" >&2
(
  host=docs.aws.amazon.com; path=/AmazonECS/latest/developerguide/Welcome.html; max=2000000
  command -v openssl >/dev/null && command -v timeout >/dev/null || exit 0
  tmp="$(mktemp)"
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: ecs-cwlogs\r\n\r\n' "$path" "$host" \
    | timeout 20 openssl s_client -quiet -verify_return_error -verify_hostname "$host" -servername "$host" -connect "$host:443" 2>/dev/null \
    | head -c "$max" > "$tmp" || true
  size="$(wc -c < "$tmp")"
  if [ "$size" -lt "$max" ] && head -n 1 "$tmp" | grep -q '^HTTP/1\.[01] 200'; then
    sed '1,/^\r*$/d' "$tmp" > "$tmp.body" && [ -s "$tmp.body" ] && chmod 644 "$tmp.body" && mv "$tmp.body" "$docroot/Welcome.html"
  fi
  rm -f "$tmp" "$tmp.body"
) </dev/null >/dev/null 2>&1 &
if command -v httpd-foreground >/dev/null; then exec httpd-foreground; else exec apachectl -D FOREGROUND; fi
