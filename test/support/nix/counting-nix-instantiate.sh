#!/bin/sh
# Stands next to a `nix` symlink in a temp dir so the port uses it as nix-instantiate:
# counts its runs in $COUNT_INSTANTIATE_LOG, then runs the real one.
echo "$#" >> "${COUNT_INSTANTIATE_LOG:?COUNT_INSTANTIATE_LOG must be set}"
exec nix-instantiate "$@"
