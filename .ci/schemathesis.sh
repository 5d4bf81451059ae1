#!/usr/bin/env bash
# API checks: validates the real server's OpenAPI document (openapi-spec-validator) and runs
# schemathesis against it.
#
# Starts target/debug/parlor on a fresh SQLite database in a temp dir, creates an admin, an
# API key, a coach with open availability, a client, a booking and a commitment (so the
# `{id}` endpoints reach real rows), then runs schemathesis authenticated with the API key.
# Exits non-zero when schemathesis reports a failure. The server is always stopped.
#
# Environment knobs (all optional):
#   ST_PARLOR_BIN              server binary (default target/debug/parlor; built if missing/stale)
#   SCHEMATHESIS_CHECKS        --checks value (default: see CHECKS below)
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 50)
#   SCHEMATHESIS_SEED          fixed seed to reproduce a run (default: random, printed)
#   SCHEMATHESIS_TIMEOUT       hard time limit in seconds for each schemathesis run (default 600)
#   SCHEMATHESIS_ARGS          extra `schemathesis run` options (word-split)
#   SCHEMATHESIS_KEEP_TMP=1    keep the temp dir (database, server log, reports)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=$ROOT/target/ci-venv
BIN=${ST_PARLOR_BIN:-$ROOT/target/debug/parlor}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-50}
RUN_TIMEOUT=${SCHEMATHESIS_TIMEOUT:-600}
# Checks (all must hold for this API):
#  - not_a_server_error: no 5xx, ever;
#  - status_code_conformance: every status returned is documented;
#  - content_type_conformance, response_headers_conformance, response_schema_conformance:
#    responses look like the document says;
#  - negative_data_rejection: schema-invalid input is refused with a 4xx;
#  - missing_required_header, unsupported_method + allow_header_conformance (405 with Allow),
#    use_after_free, ensure_resource_availability (stateful phase).
#  - ignored_auth: the document declares how each operation authenticates (securitySchemes
#    `session` and `bearer`), so requests without them must be refused with 401.
# positive_data_acceptance (schema-valid requests are accepted) runs separately (run 3) on
# the operations whose every rule the document can say (text patterns and lengths, enums, IANA
# zone names, ranges). It is left out for the others, where a schema-valid request can still
# be refused for a rule JSON Schema cannot state: e-mail syntax as the server reads it, a phone
# number by libphonenumber's rules (PATCH /api/me), SMS being configured, "a free
# slot of this coach", the booking state machine, windows whose end follows their start, and
# integers: JSON Schema counts 3.0 as an integer, serde refuses it.
# object_level_authorization needs two principals; access control is covered by tests/.
CHECKS=${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability,ignored_auth}

t0=$SECONDS
log() { printf '[schemathesis.sh %3ds] %s\n' "$((SECONDS - t0))" "$*"; }

# --- schemathesis in a venv under target/ ------------------------------------------------
# Reinstalled whenever .ci/requirements.txt changes (a copy is kept in the venv as a stamp).
if ! cmp -s "$ROOT/.ci/requirements.txt" "$VENV/requirements.txt" || [[ ! -x $VENV/bin/schemathesis ]]; then
    log "installing .ci/requirements.txt (schemathesis) into $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV"; then
        echo "python3 -m venv failed; on Debian install python3-venv (.ci/run does)" >&2
        exit 1
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/.ci/requirements.txt"
    cp "$ROOT/.ci/requirements.txt" "$VENV/requirements.txt"
fi
"$VENV/bin/schemathesis" --version

# --- the server binary ---------------------------------------------------------------------
stale() {
    [[ ! -x $BIN ]] && return 0
    [[ -n ${ST_PARLOR_BIN:-} ]] && return 1
    [[ -n $(find src migrations Cargo.toml Cargo.lock -newer "$BIN" -print -quit 2>/dev/null) ]]
}
if stale; then
    log "building $BIN (cargo build --bin parlor)"
    cargo build --bin parlor
fi

# --- a private server ---------------------------------------------------------------------
TMP=$(mktemp -d -t parlor-schemathesis.XXXXXX)
SERVER_PID=
cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && -f $TMP/server.log ]]; then
        echo "---- server log (errors and warnings) ----"
        grep -aE 'ERROR|WARN|panicked' "$TMP/server.log" | tail -n 50 || true
    fi
    if [[ ${SCHEMATHESIS_KEEP_TMP:-0} == 1 ]]; then
        echo "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
# The server refuses unknown PARLOR_* variables, so start from none (a stray variable
# in the caller's shell would stop it).
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PARLOR_' || true)
export PARLOR_DATABASE__URL=sqlite://$TMP/parlor.db
export PARLOR_DATA_DIR=$TMP/data
export PARLOR_HTTP__ADDR=127.0.0.1:$PORT
export PARLOR_HTTP__PUBLIC_URL=$BASE
export PARLOR_LOG__LEVEL=info
# Never read a developer's config/parlor.toml: defaults + the variables above only.
# (--config rather than PARLOR_CONFIG: older builds took that variable for a config key.)
: >"$TMP/parlor.toml"
PARLOR=("$BIN" --config "$TMP/parlor.toml")

ADMIN_EMAIL=admin@example.org
ADMIN_PASSWORD='admin password 123'
printf '%s\n' "$ADMIN_PASSWORD" | "${PARLOR[@]}" user add --email "$ADMIN_EMAIL" --name Admin --role admin

log "starting $BIN serve on $BASE (data in $TMP)"
"${PARLOR[@]}" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 300); do
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "server exited during start:"; cat "$TMP/server.log"; exit 1
    fi
    if [[ $i == 300 ]]; then echo "server not ready after 30 s"; cat "$TMP/server.log"; exit 1; fi
    sleep 0.1
done

# --- the document itself: valid OpenAPI 3.1 -------------------------------------------------
curl -fsS -o "$TMP/openapi.json" "$BASE/api/openapi.json"
log "openapi-spec-validator on the served document"
"$VENV/bin/openapi-spec-validator" --errors all "$TMP/openapi.json"

# --- fixtures through the API -------------------------------------------------------------
# api METHOD PATH [JSON] -> body on stdout; fails on a non-2xx status.
api() {
    local method=$1 path=$2 body=${3:-} out status
    out=$(mktemp -p "$TMP")
    local args=(-sS -o "$out" -w '%{http_code}' -X "$method" -H "Origin: $BASE")
    if [[ -n ${KEY:-} ]]; then args+=(-H "Authorization: Bearer $KEY"); else args+=(-b "${COOKIES:-$TMP/cookies}" -c "${COOKIES:-$TMP/cookies}"); fi
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    status=$(curl "${args[@]}" "$BASE$path")
    if [[ $status != 2* ]]; then
        echo "fixture request $method $path failed with $status: $(cat "$out")" >&2
        return 1
    fi
    cat "$out"
}
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {"d": d, "json": json}))' "$1"; }

KEY=
api POST /api/auth/login "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" >/dev/null
KEY=$(api POST /api/keys '{"name":"schemathesis"}' | json 'd["key"]')
# A second key, the only one DELETE /api/keys/{id} is pointed at.
SPARE_KEY_ID=$(api POST /api/keys '{"name":"schemathesis spare"}' | json 'd["info"]["id"]')

POLICY='{"session_minutes":60,"buffer_minutes":0,"slot_step_minutes":60,"min_notice_minutes":0,"booking_window_days":60,"cancel_notice_minutes":60,"reschedule_notice_minutes":60}'
COACH_USER=$(api POST /api/admin/users '{"email":"coach@example.org","name":"Coach Person","role":"coach","password":"coach password 123"}' | json 'd["user"]["id"]')
COACH_ID=$(api POST /api/coaches "{\"user_id\":\"$COACH_USER\",\"name\":\"Coach Person\",\"title\":\"Career coach\",\"specialties\":[\"careers\"],\"experience_years\":7,\"bio\":\"Helps.\",\"phone\":\"+44 20 7183 8750\",\"time_zone\":\"UTC\",\"policy\":$POLICY}" | json 'd["id"]')
WEEKLY=$(python3 -c 'import json; print(json.dumps([{"weekday": d, "start": "00:00:00", "end": "23:59:59"} for d in ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"]]))')
api PUT "/api/coaches/$COACH_ID/availability" "{\"time_zone\":\"UTC\",\"weekly\":$WEEKLY,\"overrides\":[]}" >/dev/null
CLIENT_ID=$(api POST /api/admin/users '{"email":"client@example.org","name":"Client Person","role":"client","password":"client password 123"}' | json 'd["user"]["id"]')
SLOTS_JSON=$(api GET "/api/coaches/$COACH_ID/slots")
SLOT=$(json 'd["slots"][3]["starts_at"]' <<<"$SLOTS_JSON")
# Free slots for POST /api/bookings and reschedule, as a TOML array of strings.
SLOT_VALUES=$(json 'json.dumps([s["starts_at"] for s in d["slots"][5:45]])' <<<"$SLOTS_JSON")
BOOKING_ID=$(api POST /api/bookings "{\"coach_id\":\"$COACH_ID\",\"client_id\":\"$CLIENT_ID\",\"starts_at\":\"$SLOT\",\"session_type\":\"video\",\"focus_area\":\"careers\"}" | json 'd["id"]')
COMMITMENT_ID=$(api POST /api/commitments '{"text":"write the plan","due_date":"2030-01-01"}' | json 'd["id"]')
# A second one, the only one DELETE /api/commitments/{id} is pointed at.
SPARE_COMMITMENT_ID=$(api POST /api/commitments '{"text":"spare"}' | json 'd["id"]')
# The client's feed (the run itself may rotate the admin's feed token at any time).
FEED_FILE=$(KEY= COOKIES=$TMP/client-cookies; api POST /api/auth/login '{"email":"client@example.org","password":"client password 123"}' >/dev/null \
    && api POST /api/me/calendar-feed | json 'd["feed_url"].rsplit("/", 1)[1]')
log "fixtures: coach $COACH_ID, client $CLIENT_ID, booking $BOOKING_ID, commitment $COMMITMENT_ID"

# Real ids and free slots per operation, so requests get past "not found" (schemathesis still
# generates other values in negative mode). The first matching [[operations]] entry wins.
cat >"$TMP/schemathesis.toml" <<EOF
# The run authenticates as the document says (securitySchemes.bearer), so ignored_auth can
# drop the credentials and expect a 401.
[auth.openapi.bearer]
bearer = "$KEY"

[dictionaries.slots]
values = $SLOT_VALUES

[[operations]]
include-name = "POST /api/bookings"
parameters = { "body.coach_id" = "$COACH_ID", "body.client_id" = "$CLIENT_ID", "body.starts_at" = { dictionary = "slots", probability = 0.7 } }

[[operations]]
include-name = "POST /api/bookings/{id}/reschedule"
parameters = { "path.id" = "$BOOKING_ID", "body.starts_at" = { dictionary = "slots", probability = 0.7 } }

[[operations]]
include-path-regex = '^/api/bookings/'
parameters = { "path.id" = "$BOOKING_ID" }

[[operations]]
include-path-regex = '^/api/coaches/'
parameters = { "path.id" = "$COACH_ID" }

[[operations]]
include-name = "DELETE /api/commitments/{id}"
parameters = { "path.id" = "$SPARE_COMMITMENT_ID" }

[[operations]]
include-path = "/api/commitments/{id}"
parameters = { "path.id" = "$COMMITMENT_ID" }

[[operations]]
include-path = "/api/keys/{id}"
parameters = { "path.id" = "$SPARE_KEY_ID" }

[[operations]]
include-path = "/cal/{file}"
parameters = { "path.file" = "$FEED_FILE" }
EOF

# --- schemathesis ---------------------------------------------------------------------------
common=(
    --no-color
    --max-examples "$MAX_EXAMPLES"
    --workers 2
    --request-timeout 10
    --generation-database none
    --continue-on-failure
)
[[ -n ${SCHEMATHESIS_SEED:-} ]] && common+=(--seed "$SCHEMATHESIS_SEED")
# Extra options, word-split, e.g. SCHEMATHESIS_ARGS="--phases coverage,fuzzing".
# shellcheck disable=SC2206
common+=(${SCHEMATHESIS_ARGS:-})

st() {
    (cd "$TMP" && timeout --signal=INT --kill-after=30 "$RUN_TIMEOUT" \
        "$VENV/bin/schemathesis" --config-file "$TMP/schemathesis.toml" run "$@")
}

rc=0
# 1. Everything except operations that would destroy the fixtures mid-run:
#    DELETE /api/me erases the admin; POST /api/auth/logout (cookie-only, excluded by request);
#    DELETE /api/keys/{id} revokes the key the run authenticates with (the stateful phase finds
#    its id through GET /api/keys), so it gets its own run at the end.
log "schemathesis run 1/3: all operations but DELETE /api/me, POST /api/auth/logout, DELETE /api/keys/{id}"
log "checks: $CHECKS"
st "$BASE/api/openapi.json" "${common[@]}" --checks "$CHECKS" \
    --exclude-name 'DELETE /api/me' \
    --exclude-name 'POST /api/auth/logout' \
    --exclude-name 'DELETE /api/keys/{id}' \
    || rc=$?

# 2. Schema-valid requests are accepted, on the operations whose rules the document states
#    in full (see "positive_data_acceptance" above).
POSITIVE=(
    'GET /api/bookings' 'GET /api/commitments' 'POST /api/commitments' 'PATCH /api/commitments/{id}'
    'POST /api/bookings/{id}/cancel' 'PUT /api/bookings/{id}/notes' 'PUT /api/bookings/{id}/status'
    'PUT /api/me/password' 'POST /api/keys' 'GET /api/keys' 'GET /api/admin/audit'
    'GET /api/admin/users' 'GET /api/voice/sessions' 'GET /api/me' 'GET /api/me/export'
)
include=()
for op in "${POSITIVE[@]}"; do include+=(--include-name "$op"); done
log "schemathesis run 2/3: positive_data_acceptance on ${#POSITIVE[@]} operations"
st "$BASE/api/openapi.json" "${common[@]}" --checks positive_data_acceptance,not_a_server_error \
    "${include[@]}" || rc=$?

# 3. Key revocation last: it may revoke the run's own key, which only costs later 401s here.
log "schemathesis run 3/3: DELETE /api/keys/{id}"
st "$BASE/api/openapi.json" "${common[@]}" --checks "$CHECKS" \
    --include-name 'DELETE /api/keys/{id}' \
    || rc=$?

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server died during the run"; rc=1
fi
if grep -aq 'panicked' "$TMP/server.log"; then
    echo "the server log has a panic:"; grep -a -A5 'panicked' "$TMP/server.log" | head -40; rc=1
fi
log "done (exit $rc)"
exit "$rc"
