#!/usr/bin/env bash
# Installs what is missing, builds everything and runs gatherd with conf/gatherd.ini.
# Put the xychatai cookie in conf/.env.local first (see conf/.env.example); the demo source
# shows data without it. Extra arguments go to gatherd (e.g. `once`, `check-config`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build_native "$GATHERD_BUILD" -DGATHERD_BUILD_BENCH=OFF -DBUILD_TESTING=OFF
build_web
echo "run: dashboard on http://127.0.0.1:8080 (unless conf/gatherd.ini binds elsewhere)"
exec "$GATHERD_BUILD/gatherd" --config "$GATHERD_ROOT/conf/gatherd.ini" "$@"
