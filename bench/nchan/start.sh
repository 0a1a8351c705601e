#!/usr/bin/env bash
# Runs nginx + nchan in the foreground on 127.0.0.1 with a temporary prefix.
#   bench/nchan/start.sh [PREFIX_DIR] [PORT] [WORKERS]
# PREFIX_DIR defaults to a new mktemp directory; PORT defaults to a free loopback port; WORKERS to 2 (one per core). The script execs nginx,
# so the PID a caller gets from `start.sh &` is nginx's master; SIGTERM (or Ctrl-C) stops it and its workers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${1:-$(mktemp -d /tmp/sluice-nchan.XXXXXX)}"
port="${2:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
workers="${3:-2}"
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$nginx_bin" ] || { echo "nginx not found: apt-get install -y nginx libnginx-mod-nchan" >&2; exit 1; }
[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || { echo "nchan module not found: apt-get install -y libnginx-mod-nchan" >&2; exit 1; }
mkdir -p "$prefix"
sed -e "s|__PREFIX__|$prefix|g" -e "s|__PORT__|$port|g" -e "s|^worker_processes 2;|worker_processes $workers;|" \
    "$here/nginx.conf" > "$prefix/nginx.conf"
echo "nginx+nchan on http://127.0.0.1:$port (prefix $prefix): /pub /sub /ok" >&2
exec "$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon off;'
