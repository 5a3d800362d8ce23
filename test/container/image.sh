#!/usr/bin/env bash
# The container image, built and run as an operator would run it:
#   image.sh build   builds mfa-service:ci from the Dockerfile (Docker installed and started when
#                    missing; node:20-bookworm-slim made by .ci/node-image-standin.sh when it cannot
#                    be pulled)
#   image.sh run     production refuses to start without OIDC; in development mode the container
#                    becomes healthy as user `node`, answers the walk-through, stops cleanly on
#                    `docker stop`, and a new container on its volume finds its data (events, signing
#                    key)
# Needs root (it may install docker.io) and a free loopback port, which Docker picks.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${MFA_IMAGE:-mfa-service:ci}"

step() { echo "   [image] $*"; }
fail() { echo "   [image] FAILED: $*" >&2; exit 1; }

ensure_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  if ! command -v dockerd >/dev/null; then
    step "installing Debian's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/tmp/mfa-docker-install.log 2>&1 \
      || { tail -20 /tmp/mfa-docker-install.log >&2; fail "apt-get install docker.io"; }
  fi
  step "starting dockerd"
  (setsid dockerd >/tmp/mfa-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  tail -20 /tmp/mfa-dockerd.log >&2
  fail "dockerd did not start within 30 s"
}

build() {
  ensure_docker
  bash .ci/node-image-standin.sh node:20-bookworm-slim
  local started=$SECONDS
  docker build -t "$IMAGE" . >/tmp/mfa-image-build.log 2>&1 || { tail -40 /tmp/mfa-image-build.log >&2; fail "docker build"; }
  step "built $IMAGE in $((SECONDS - started)) s"
}

# Waits until the container's HEALTHCHECK reports healthy.
wait_healthy() {
  local name=$1 status=""
  for _ in $(seq 1 120); do
    status="$(docker inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null || echo gone)"
    [ "$status" = healthy ] && return
    [ "$status" = gone ] && break
    sleep 0.5
  done
  docker logs "$name" 2>&1 | tail -20 >&2
  fail "$name is $status, not healthy, after 60 s"
}

# curl that prints the status code, then the body, so that both can be checked.
call() { curl -s -w '\n%{http_code}' "$@"; }
expect() {
  local what=$1 answer=$2 status=$3 pattern=$4
  local code="${answer##*$'\n'}" body="${answer%$'\n'*}"
  [ "$code" = "$status" ] || fail "$what: HTTP $code, expected $status: $body"
  [[ "$body" =~ $pattern ]] || fail "$what: body $body does not match $pattern"
  step "$what: $code $body"
}

run() {
  ensure_docker
  docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "no image $IMAGE: run '$0 build' first"
  local name="mfa-ci-$$" volume="mfa-ci-data-$$"
  trap "docker rm -f $name >/dev/null 2>&1 || true; docker volume rm -f $volume >/dev/null 2>&1 || true" EXIT

  # The image sets NODE_ENV=production: without OIDC settings it must refuse development tokens.
  local refused code=0
  refused="$(docker run --rm "$IMAGE" 2>&1)" || code=$?
  [ "$code" = 78 ] || fail "production without OIDC exited with $code, expected 78: $refused"
  [[ "$refused" == *'"level":"fatal"'*OIDC_ISSUER* ]] || fail "production without OIDC did not say why: $refused"
  step "production without OIDC: refused to start (exit 78, the log line names OIDC_ISSUER)"

  docker volume create "$volume" >/dev/null
  docker run -d --name "$name" -e NODE_ENV=development -v "$volume:/data" -p 127.0.0.1::8080 "$IMAGE" >/dev/null
  wait_healthy "$name"
  local api="http://$(docker port "$name" 8080/tcp | head -1)"
  [ "$(docker exec "$name" id -un)" = node ] || fail "the service does not run as user node"
  step "healthy at $api, running as user node"

  local token
  token="$(docker exec "$name" node dist/scripts/token.js --sub admin-1 --org acme --role IAM_OWNER)"
  local auth=(-H "Authorization: Bearer $token")
  expect "AddHumanUser" "$(call -X POST "$api/v2/users/human" "${auth[@]}" -d '{"userId":"minnie","profile":{"givenName":"Minnie","familyName":"Mouse"},"email":{"email":"minnie@example.com","isVerified":true}}')" \
    200 '"userId":"minnie".*"sequence":"2"'
  expect "AddOTPEmail" "$(call -X POST "$api/v2/users/minnie/otp_email" "${auth[@]}" -d '{}')" 200 '"sequence":"3"'
  expect "ListAuthenticationFactors" "$(call -X POST "$api/v2/users/minnie/authentication_factors/_search" "${auth[@]}")" \
    200 '^\{"result":\[\{"state":"AUTH_FACTOR_STATE_READY","otpEmail":\{\}\}\]\}$'
  expect "RemoveOTPEmail" "$(call -X DELETE "$api/v2/users/minnie/otp_email" "${auth[@]}")" 200 '"sequence":"4".*"resourceOwner":"acme"'
  expect "RemoveOTPEmail again" "$(call -X DELETE "$api/v2/users/minnie/otp_email" "${auth[@]}")" 404 'COMMAND-b312D'

  local started=$SECONDS
  docker stop "$name" >/dev/null
  local stopped_in=$((SECONDS - started)) exit_code
  exit_code="$(docker inspect -f '{{.State.ExitCode}}' "$name")"
  [ "$exit_code" = 0 ] || fail "docker stop: the service exited with $exit_code"
  [ "$stopped_in" -lt 5 ] || fail "docker stop took $stopped_in s: SIGTERM was not handled"
  docker logs "$name" 2>&1 | grep -q 'mfa-service stopped cleanly' || fail "no 'stopped cleanly' line"
  step "docker stop: exit 0 within ${stopped_in} s, 'stopped cleanly' logged"

  # A new container on the same volume: what it finds can only have come from the volume.
  docker rm "$name" >/dev/null
  docker run -d --name "$name" -e NODE_ENV=development -v "$volume:/data" -p 127.0.0.1::8080 "$IMAGE" >/dev/null
  wait_healthy "$name"
  api="http://$(docker port "$name" 8080/tcp | head -1)"
  # The same token: the development signing key is in the volume too.
  expect "GetUserByID after a restart" "$(call "$api/v2/users/minnie" "${auth[@]}")" 200 '"sequence":"4".*"userId":"minnie"'
  expect "ListAuthenticationFactors after a restart" "$(call -X POST "$api/v2/users/minnie/authentication_factors/_search" "${auth[@]}")" \
    200 '^\{(\}|"result":\[\]\})$'
  step "a new container on the volume found the events and the signing key"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
