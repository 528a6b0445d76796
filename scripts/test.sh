#!/usr/bin/env bash
# The whole test suite: what `npm test` runs, locally and in CI.
# Installs what the tests need when it is missing, type-checks, then runs every *.test.ts file.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the interop tests drive (Debian packages): SIPp, baresip, openssl.
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test dependencies: ${need[*]}" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "missing ${need[*]} and not root: install them first" >&2; exit 1
  fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund

npx tsc --noEmit
# The engine's own log lines are checked through log sinks; keep them off the test output.
export AUDIO_STREAM_LOG_LEVEL="${AUDIO_STREAM_LOG_LEVEL:-off}"
mapfile -t files < <(find src test -name '*.test.ts' -not -path 'test/conformance/*' -not -name '*-slow-consumers.test.ts' | sort)
# The conformance suite and the slow-consumer floods (they load the machine on purpose and check
# the media clock keeps up) run alone, one file at a time, after the rest.
mapfile -t conformance < <({ find test/conformance -name '*.test.ts'; find test/interop -name '*-slow-consumers.test.ts'; } | sort)
if [ ${#files[@]} -eq 0 ] || [ ${#conformance[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
status=0
node --import tsx --test --test-concurrency=2 --test-timeout=120000 "${files[@]}" || status=$?
# The conformance suite runs on its own afterwards: it drives the real FreeSWITCH and audio-stream
# side by side with timed calls (about a minute), so it gets the machine and a longer deadline.
node --import tsx --test --test-timeout=600000 "${conformance[@]}" || status=$?
exit $status
