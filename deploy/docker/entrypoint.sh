#!/bin/sh
# Container entrypoint of futures-collector (deploy/docker/Dockerfile): reads secrets given as
# files (FUTURES_COLLECTOR_WEB_TOKEN_FILE, FUTURES_COLLECTOR_AMQP_USERNAME_FILE,
# FUTURES_COLLECTOR_AMQP_PASSWORD_FILE, e.g. Docker or Kubernetes secrets) into the variables the
# collector reads, then replaces itself with the collector (exec: tini's signals reach it).
set -eu
for var in FUTURES_COLLECTOR_WEB_TOKEN FUTURES_COLLECTOR_AMQP_USERNAME FUTURES_COLLECTOR_AMQP_PASSWORD; do
  file_var="${var}_FILE"
  eval "file=\${${file_var}:-}"
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "collector-entrypoint: $file_var=$file is not readable" >&2
      exit 1
    fi
    value=$(cat "$file")
    export "$var=$value"
    unset "$file_var"
  fi
done
exec /opt/futures-collector/bin/futures-collector --log-format json "$@"
