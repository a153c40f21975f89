#!/bin/sh
# meson install script: installs the default config unless one is already there, so an
# operator's edits survive a re-install (as a dpkg conffile would).
# Usage: install-config.sh SOURCE DIR   (DIR absolute; $DESTDIR honoured)
set -eu
src="$1"
dir="${DESTDIR:-}$2"
mkdir -p "$dir"
if [ -e "$dir/edgecached.json" ]; then
  echo "Keeping existing $dir/edgecached.json (the new default is $src)"
else
  install -m 0644 "$src" "$dir/edgecached.json"
  echo "Installing $src to $dir"
fi
