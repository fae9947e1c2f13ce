#!/bin/sh
# Stands in for nixos-rebuild in tests of config.activate/rollback on a host that is not
# NixOS: records its arguments in $FAKE_REBUILD_LOG and exits with $FAKE_REBUILD_EXIT.
echo "fake nixos-rebuild $*"
echo "building the system configuration..." >&2
printf '%s\n' "$*" >> "${FAKE_REBUILD_LOG:?FAKE_REBUILD_LOG must be set}"
exit "${FAKE_REBUILD_EXIT:-0}"
