# nginx_conf.sh: the head of the nginx configurations the tests and the
# real-site benchmark run (sourced, not run).
#
# nginx_conf_head DIR: prints an nginx.conf up to inside its http block:
# one foreground worker (so the caller's PID is nginx's), its pid file,
# logs and temp paths under DIR, MIME types, sendfile and long keep-alive.
# The caller adds its server blocks and the closing "}".
nginx_conf_head() {
  local d=$1
  # As root nginx would switch its worker to nobody, who may not read DIR.
  [ "$(id -u)" = 0 ] && echo "user root;"
  cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log $d/access.log;
  client_body_temp_path $d/client_body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  sendfile on;
  keepalive_timeout 65;
  keepalive_requests 100000;
EOF
}
