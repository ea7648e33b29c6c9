#!/usr/bin/env bash
# The main job: install what is needed, build kumo and the default guest image
# (cached after the first time), start kumod, kumo's cloud control plane, for
# this user, and get a virtual server from it: `kumo up` makes sure the VM
# `default` of resource group `default` exists (created at the first run from
# the embedded defaults: image `default`, a 2-vCPU size, its own virtual
# network, an NSG allowing SSH and a public IP whose host ports reach its TCP
# 22, 80 and 443), starts it if it is stopped, prints its IPs and ports and
# attaches this terminal to its serial console: you get its shell. Ctrl-]
# (or Ctrl-A x) detaches and the VM keeps running; `poweroff` in the guest
# stops it. Its OS disk persists from one run to the next.
#
# kumod runs in the background and outlives this script, so that the VM keeps
# running: its data directory (state, disks, logs, kumod.log) is kumod's
# default, the one `kumo` finds by itself ($XDG_STATE_HOME/kumo,
# ~/.local/state/kumo, or /var/lib/kumo for root; $KUMO_DATA_DIR overrides
# it). A kumod already running there is reused.
#
#   scripts/run.sh [KUMO-UP-OPTIONS]   e.g. --size B1s (for a new VM), -n other;
#                                      -n deb --image Debian13: a Debian 13 VM
#                                      (its image built first, then cached)
#   scripts/run.sh --stop              power off the running VMs, stop kumod and
#                                      its network switch
#
# From a pipe (CI), stdin goes to the guest once it is at its prompt, and the
# script returns at the end of stdin (the VM keeps running) or when the guest
# powers off. Environment for tests and other setups:
#   KUMO_DATA_DIR        kumod's data directory
#   KUMO_BUILD           the build directory holding kumo and kumod (build)
#   KUMO_RUN_NO_SETUP=1  skip installing packages and building (use what is there)
#   KUMO_GUEST_DIR       the default guest (else guest/build.sh's cache)
#   KUMOD_ARGS           more options for a kumod this script starts
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KUMO_BUILD:-build}

if [ -n "${KUMO_DATA_DIR:-}" ]; then
  data=$KUMO_DATA_DIR
elif [ -n "${XDG_STATE_HOME:-}" ]; then
  data=$XDG_STATE_HOME/kumo
elif [ "$(id -u)" -eq 0 ]; then
  data=/var/lib/kumo
else
  data=$HOME/.local/state/kumo
fi
export KUMO_DATA_DIR=$data

# The kumod (and its kumo-switch) of this data directory: the pid kumod keeps
# in kumod.lock while it holds the lock, and processes whose command line
# names the data directory's net/ (the switch).
kumod_pid() {
  local pid
  pid=$(head -n1 "$data/kumod.lock" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] &&
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q kumod; then
    echo "$pid"
  fi
}
switch_pids() {
  local p
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qxF "$data/net/control.sock"; then
      echo "${p#/proc/}"
    fi
  done
}

if [ "${1:-}" = "--stop" ]; then
  if ! "$build/kumo" status >/dev/null 2>&1; then
    echo "[kumo] no kumod answers in $data: nothing to stop" >&2
  else
    # every running VM of this kumod (every group): its group and name
    env -u KUMO_GROUP "$build/kumo" vm list -o tsv \
      --query "[?powerState=='Running' || powerState=='Starting'].[resourceGroup, name]" |
      while IFS=$'\t' read -r rg name; do
        echo "[kumo] powering off VM '$name' of resource group '$rg'" >&2
        "$build/kumo" vm stop -g "$rg" "$name" </dev/null >&2 || true
      done
  fi
  pid=$(kumod_pid)
  if [ -n "$pid" ]; then
    echo "[kumo] stopping kumod (pid $pid)" >&2
    kill -TERM "$pid"
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  for pid in $(switch_pids); do
    echo "[kumo] stopping kumo-switch (pid $pid)" >&2
    kill -TERM "$pid" 2>/dev/null || true
  done
  exit 0
fi

if [ "${KUMO_RUN_NO_SETUP:-}" != 1 ]; then
  scripts/deps.sh
  guest/deps.sh
  scripts/build.sh
fi
guest=${KUMO_GUEST_DIR:-$(guest/build.sh)}

# A VM of the Debian 13 image (--image Debian13, debian-13 or its URN): its
# image is built first (long the first time, then cached: guest/README.md),
# and a kumod that started before it existed is restarted to register it
# (its VMs keep running; it adopts them again).
debian=0
for a in "$@"; do
  case "$a" in Debian13 | debian13 | debian-13 | Debian:debian-13:* | --image=Debian13 | --image=debian-13) debian=1 ;; esac
done
if [ "$debian" = 1 ]; then
  guest/debian/build.sh >/dev/null
  if "$build/kumo" status >/dev/null 2>&1 &&
    [ "$("$build/kumo" image show debian-13 -o tsv --query provisioningState 2>/dev/null)" = Unavailable ]; then
    pid=$(kumod_pid)
    echo "[kumo] restarting kumod (pid $pid) to register the Debian image it has not seen" >&2
    kill -TERM "$pid"
    for _ in $(seq 300); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
fi

if "$build/kumo" status >/dev/null 2>&1; then
  echo "[kumo] reusing the kumod running on $data/kumod.sock (pid $(kumod_pid))" >&2
else
  mkdir -p "$data"
  chmod 700 "$data"
  # its own session: a ^C or hang-up of this terminal does not reach it
  # shellcheck disable=SC2086 # KUMOD_ARGS is a list of words
  setsid "$build/kumod" --data-dir "$data" --guest-dir "$guest" ${KUMOD_ARGS:-} \
    </dev/null >>"$data/kumod.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    "$build/kumo" status >/dev/null 2>&1 && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "[kumo] kumod did not start; the end of $data/kumod.log says:" >&2
      tail -n 20 "$data/kumod.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! "$build/kumo" status >/dev/null 2>&1; then
    echo "[kumo] kumod (pid $pid) does not answer after 60 s; see $data/kumod.log" >&2
    exit 1
  fi
  echo "[kumo] started kumod (pid $pid), data in $data, log $data/kumod.log" >&2
fi
if [ "$debian" = 1 ]; then # its import (a hard link, or a copy) ends first
  for _ in $(seq 1800); do
    [ "$("$build/kumo" image show debian-13 -o tsv --query provisioningState 2>/dev/null)" = Creating ] || break
    sleep 0.2
  done
fi
echo "[kumo] kumod keeps running in the background after this script, and so does the VM;" \
  "'scripts/run.sh --stop' powers the VMs off and stops kumod" >&2

"$build/kumo" up --console "$@"
