# Shared by the bench/ scripts, sourced from the repository's root: a work directory, the key and
# token every configuration uses, the processes to stop at exit (pids) and the helpers below.
# KG_BENCH_KEEP=dir keeps the processes' logs there.
work=$(mktemp -d)
key=sk_staging_bench0123456789abcdef
token=bench-token-0123456789abcdef-0123456
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KG_BENCH_KEEP:-}" ] && mkdir -p "$KG_BENCH_KEEP" && cp "$work"/*.log "$KG_BENCH_KEEP"/
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

port_of() { # waits (up to 30 s) for a listening line in $1 and prints its port
  local p
  for _ in $(seq 300); do
    p=$(grep -o '"port":"[0-9]*\|127.0.0.1:[0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "no listening line in $1" >&2
  exit 1
}

free_port() { # the first port from $1 up that nothing listens on
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

gw_yaml() { # file sim_port [store]: kycgate's configuration in front of the simulator; with
  # store, the embedded store (and so events) on, beside file; without, no store (the default
  # path, /var/lib/kycgate, may or may not exist)
  cat >"$1" <<YAML
server: {listen: "127.0.0.1:0", drain_delay_s: 0, max_connections: 12000}
crossmint:
  environment: staging
  base_url: "http://127.0.0.1:$2"
  api_key: "$key"
  max_connections: 64             # as many idle connections as nginx keeps
  rate_limit: {reads_per_minute: 0, writes_per_minute: 0}
verification: {max_wait_s: 300, max_waiting_per_client: 20000, max_waiting: 20000}
auth:
  clients:
    - {name: bench, token: "$token", scopes: [users.create, users.read]}
YAML
  if [ -n "${3:-}" ]; then
    printf 'store:\n  sqlite: {path: "%s"}\n' "$1.db" >>"$1"
  else
    printf 'store: {driver: none}\n' >>"$1"
  fi
}

nginx_conf() { # file workdir port sim_port key: nginx as the reverse proxy that adds the key
  cat >"$1" <<NGINX
worker_processes 2;
pid $2/nginx.pid;
error_log $2/nginx.err;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  upstream sim { server 127.0.0.1:$4; keepalive 64; }
  server {
    listen 127.0.0.1:$3;
    location /v1/users/ {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-API-KEY $5;
      rewrite ^/v1/users/(.*)/verification\$ /2025-06-09/users/\$1/identity-verification break;
      rewrite ^/v1/users/(.*)\$ /2025-06-09/users/\$1 break;
      proxy_pass http://sim;
    }
  }
}
NGINX
}
