#!/usr/bin/env bash
# Runs `keysweep ci` for the GitHub Action with the inputs the runner passes as INPUT_*.
# keysweep itself computes the range from the event, writes annotations, the job summary and
# the `findings`/`sarif-file` outputs; this script adds `exit-code` and decides pass/fail.
# An incomplete scan (exit 2) always fails: the action never goes green on nothing scanned.
set -uo pipefail
bin=${KEYSWEEP_BIN:-keysweep}
args=(ci --mode "${INPUT_MODE:-auto}")
[ -n "${INPUT_SARIF:-}" ] && args+=(--sarif "$INPUT_SARIF")
[ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
case "${INPUT_REVOKE:-false}" in true|yes|1) args+=(--revoke) ;; esac
# Word-splitting of INPUT_ARGS is intended: it is a list of extra flags.
# shellcheck disable=SC2206
extra=(${INPUT_ARGS:-})

cd "${GITHUB_WORKSPACE:-.}" || exit 2
"$bin" "${args[@]}" "${extra[@]}"
code=$?
[ -n "${GITHUB_OUTPUT:-}" ] && echo "exit-code=$code" >> "$GITHUB_OUTPUT"
case $code in
  0) exit 0 ;;
  1) case "${INPUT_FAIL_ON_FINDINGS:-true}" in false|no|0) echo "keysweep: findings reported, fail-on-findings is off"; exit 0 ;; *) exit 1 ;; esac ;;
  *) echo "::error title=keysweep::scan incomplete or failed (exit $code): see the log above"; exit "$code" ;;
esac
