#!/usr/bin/env bash
# make demo-ha: the simulated charger (mq200 run --sim) and Home Assistant with its frontend on
# 127.0.0.1:8123, the MQ 200 integration already set up against it. Ctrl-C stops both.
# Env: HA_PORT (8123), CONTROLLER_PORT (8080), MQ200_DEMO_HA_DIR (.cache/demo-ha, wiped).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
HA_PORT="${HA_PORT:-8123}"
CONTROLLER_PORT="${CONTROLLER_PORT:-8080}"
DEMO="${MQ200_DEMO_HA_DIR:-$REPO/.cache/demo-ha}"

scripts/setup_ha_env.sh >&2
[ -x .venv/bin/mq200 ] || { echo "demo_ha: run 'make setup' first (.venv/bin/mq200)" >&2; exit 1; }

rm -rf "$DEMO"
mkdir -p "$DEMO/controller" "$DEMO/config/custom_components"
ln -s "$REPO/custom_components/mq200" "$DEMO/config/custom_components/mq200"
cat > "$DEMO/controller/mq200.toml" <<TOML
[daemon]
log_format = "json"

[identity]
serial_number = "MQ200-00DE0001"

[station]
local_list = ["04A1B2C3"]
TOML
cat > "$DEMO/config/configuration.yaml" <<YAML
homeassistant:
  name: MQ 200 demo
  unit_system: metric
  currency: USD
  time_zone: America/Los_Angeles
  country: US
  latitude: 37.77
  longitude: -122.42
  elevation: 10
frontend:
config:
http:
  server_host: 127.0.0.1
  server_port: $HA_PORT
logger:
  default: warning
  logs:
    custom_components.mq200: info
YAML

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkfifo "$DEMO/controller.out"
.venv/bin/mq200 run --sim --config "$DEMO/controller/mq200.toml" --data-dir "$DEMO/controller" \
    --listen "127.0.0.1:$CONTROLLER_PORT" --dip 40 > "$DEMO/controller.out" 2> "$DEMO/controller.log" &
pids+=($!)
TOKEN=""
while IFS= read -r line; do
    case "$line" in
        *'"event": "ready"'*)
            TOKEN="$(printf '%s' "$line" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["client_token"])')"
            break ;;
    esac
done < "$DEMO/controller.out"
[ -n "$TOKEN" ] || { echo "demo_ha: the controller did not start; see $DEMO/controller.log" >&2; exit 1; }
cat "$DEMO/controller.out" > /dev/null &
pids+=($!)
echo "demo_ha: simulated charger on http://127.0.0.1:$CONTROLLER_PORT (client token in $DEMO/controller/tokens.json)" >&2

.venv-ha/bin/python -m homeassistant --config "$DEMO/config" --skip-pip > "$DEMO/ha.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do
    if .venv-ha/bin/python - "$HA_PORT" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/onboarding", timeout=1)
PY
    sleep 0.5
done
.venv-ha/bin/python scripts/demo_ha_setup.py "http://127.0.0.1:$HA_PORT" 127.0.0.1 \
    "$CONTROLLER_PORT" "$TOKEN" "$DEMO/auth.json"
echo "demo_ha: Home Assistant on http://127.0.0.1:$HA_PORT (user demo / mq200-demo-password);" \
     "plug the simulated EV in with: .venv/bin/mq200 sim --url http://127.0.0.1:$CONTROLLER_PORT --token $TOKEN plug" >&2
wait -n "${pids[@]}"
