#!/usr/bin/env bash
# need.sh COMMAND PACKAGE: make sure COMMAND is on PATH, installing Debian's
# PACKAGE with apt-get when running as root; otherwise stop with a message
# naming the package. Used by the Makefile before a target needs a tool.
set -euo pipefail
cmd=$1 pkg=$2
command -v "$cmd" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "need.sh: '$cmd' is missing: install Debian's package '$pkg' (apt-get install $pkg) and run again" >&2
	exit 1
fi
echo "need.sh: installing $pkg for $cmd" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine; update once, then install.
apt-get install -y -qq "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$pkg"; }
command -v "$cmd" >/dev/null 2>&1 || { echo "need.sh: $pkg installed but '$cmd' is still missing" >&2; exit 1; }
