set -e
conf=/usr/local/apache2/conf/httpd.conf
[ -f "$conf" ] || conf=/etc/apache2/apache2.conf
# The lab's log lines: access log (local6) and error log (local7) piped to the logging container's rsyslog.
cat >> "$conf" <<'CONF'
CustomLog "| /usr/bin/logger -t httpd -p local6.info -n cloudwatchlogs -P 514 -T" "%v %h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""
ErrorLogFormat "%v [%t] [%l] [pid %P] %F: %E: [client %a] %M"
ErrorLog "| /usr/bin/logger -t httpd -p local7.info -n cloudwatchlogs -P 514 -T"
CONF
echo "ServerName $(hostname)" >> "$conf"
docroot=/usr/local/apache2/htdocs
[ -d "$docroot" ] || docroot=/var/www/html
# The lab's web content: a mirror of the ECS developer guide's welcome page, or a local page if it can't be fetched.
if (command -v wget >/dev/null || (apt-get update -qq && apt-get install -y -qq wget >/dev/null)) \
  && wget -q -T 20 -mkEpnp -nH --cut-dirs=4 -P "$docroot" https://docs.aws.amazon.com/AmazonECS/latest/developerguide/Welcome.html; then
  cp "$docroot/Welcome.html" "$docroot/index.html"
else
  printf '<html><body><h1>ecs-cwlogs</h1><p>Served by httpd on ECS; its logs go to CloudWatch Logs through rsyslog.</p></body></html>\n' > "$docroot/index.html"
fi
if command -v httpd-foreground >/dev/null; then exec httpd-foreground; else exec apachectl -D FOREGROUND; fi
