# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing scripts
# guest/lib.sh: helpers shared by guest/build.sh and its two stages,
# guest/build-kernel.sh and guest/build-userland.sh, which source it.
# It is one of the hashed inputs of both stages: editing it rebuilds both.

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CROSS=riscv64-linux-gnu-
JOBS=${KUMO_JOBS:-$(nproc)}
CACHE_ROOT=${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/guest
KERNEL_TARBALL=/usr/src/linux-source-6.1.tar.xz
# Fixed timestamp for everything the builds stamp, for reproducible outputs.
EPOCH=1704067200 # 2024-01-01 00:00:00 UTC

LOG_TAG=${LOG_TAG:-guest}
log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
	printf '[%s] error: %s\n' "$LOG_TAG" "$*" >&2
	exit 1
}

need_tools() {
	local tool
	for tool; do
		command -v "$tool" >/dev/null 2>&1 ||
			die "'$tool' not found; run guest/deps.sh to install the build dependencies"
	done
}

need_sources() {
	local f
	for f; do [ -f "$GUEST_DIR/$f" ] || die "missing $GUEST_DIR/$f"; done
}

pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
		die "package $1 is not installed; run guest/deps.sh"
}

# --- inputs: what a cache entry is keyed by -----------------------------------
# Each stage lists its inputs with these, then takes HASH from inputs_hash.
# (Assignments rather than $(...) inside echo, so that a failure stops the
# script under set -e instead of producing an empty version.)
INPUTS=
add_input() { INPUTS+="$*"$'\n'; }
add_file() { # a file of ours in guest/
	local sum
	sum=$(sha256sum <"$GUEST_DIR/$1")
	add_input "file $1 sha256 ${sum%% *}"
}
add_pkg() { # PACKAGE [NOTE]: a Debian package's installed version
	local v
	v=$(pkg_version "$1")
	add_input "deb $1 $v${2:+ ($2)}"
}
inputs_hash() { printf '%s' "$INPUTS" | sha256sum | cut -c1-16; }

# --- cache entries -----------------------------------------------------------
# An entry is a directory PARENT/NAME holding ENTRY_FILES (all non-empty). It
# is built in PARENT/.tmp-NAME-* (same file system) and renamed into place
# only when complete, under an flock on PARENT/.lock-NAME, so an interrupted
# build leaves nothing behind and a second build of the same entry waits for
# the first, then finds it.

entry_complete() { # DIR: DIR holds every file of ENTRY_FILES
	local f
	for f in "${ENTRY_FILES[@]}"; do [ -s "$1/$f" ] || return 1; done
}

# entry_open PARENT NAME FILE...: sets FINAL (the entry) and CACHED=1 if it is
# complete. Otherwise takes the lock (waiting for a concurrent build of the
# same entry, which may complete it), and if still incomplete sets CACHED=0
# and makes the work directory: TMP, with OUT (becomes the entry) and WORK
# (scratch, removed at exit unless KUMO_KEEP_WORK=1).
entry_open() {
	local parent=$1 name=$2
	shift 2
	ENTRY_FILES=("$@")
	FINAL=$parent/$name
	CACHED=1
	mkdir -p "$parent"
	if entry_complete "$FINAL"; then return 0; fi
	exec 9>"$parent/.lock-$name"
	if ! flock -n 9; then
		log "another build of $name is running; waiting for it"
		flock 9
	fi
	if entry_complete "$FINAL"; then return 0; fi
	CACHED=0
	# Work left by a killed build of this entry is stale (we hold its lock).
	rm -rf "$parent/.tmp-$name-"*
	TMP=$(mktemp -d "$parent/.tmp-$name-XXXXXX")
	trap entry_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	OUT=$TMP/out
	WORK=$TMP/work
	mkdir -p "$OUT" "$WORK"
	T_START=$(date +%s)
}

entry_cleanup() {
	if [ "${KUMO_KEEP_WORK:-0}" = 1 ] && [ -d "$TMP" ]; then
		log "work directory kept: $TMP"
	else
		rm -rf "$TMP"
	fi
}

# entry_publish [SUMMED_FILE...]: write SHA256SUMS (of the given files, or of
# all ENTRY_FILES) and inputs.txt, then rename OUT into place.
entry_publish() {
	local sums=("$@")
	[ "${#sums[@]}" -gt 0 ] || sums=("${ENTRY_FILES[@]}")
	(cd "$OUT" && sha256sum "${sums[@]}" >SHA256SUMS)
	{
		printf '%s' "$INPUTS"
		echo "build_seconds $(($(date +%s) - T_START))"
	} >"$OUT/inputs.txt"
	[ ! -e "$FINAL" ] || rm -rf "$FINAL" # an incomplete entry (older script)
	mv -T "$OUT" "$FINAL"
}

# --- build steps -------------------------------------------------------------
step_start() {
	STEP_T=$(date +%s)
	log "$*"
}
step_done() { log "  done in $(($(date +%s) - STEP_T)) s"; }

# Run a long command with its output in a log file; on failure show the tail.
run_logged() {
	local logfile=$1
	shift
	if ! "$@" >"$logfile" 2>&1; then
		tail -n 40 "$logfile" | sed 's/^/    /' >&2
		die "command failed: $* (full log: $logfile; set KUMO_KEEP_WORK=1 to keep it)"
	fi
}

# Environment for reproducible builds.
reproducible_env() {
	export SOURCE_DATE_EPOCH=$EPOCH
	export LC_ALL=C TZ=UTC
}
