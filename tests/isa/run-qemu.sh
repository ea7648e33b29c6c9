#!/bin/sh
# run-qemu.sh OUTDIR [TEST...]
#
# Builds the kumo ISA conformance programs into OUTDIR and runs each on
# QEMU's `spike` machine (HTIF tohost/fromhost), printing PASS/FAIL per test.
# The test list is read from meson.build (between "# BEGIN TESTS" and
# "# END TESTS"), so it is kept in one place.  Tests whose name ends in
# "-kumo" depend on behaviour in which kumo-vmm deliberately differs from
# QEMU 7.2 (see README.md) and are skipped here.
#
# A test passes when QEMU exits 0 (tohost = 1) and printed no "FAIL" (the exit
# status is only the low 8 bits of the failing case number).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run-qemu.sh OUTDIR [TEST...]}
shift
mkdir -p "$out"

CC=${CC:-riscv64-unknown-elf-gcc}
QEMU=${QEMU:-qemu-system-riscv64}
CFLAGS="-march=rv64gc_zba_zbb_zbs -mabi=lp64d -nostdlib -nostartfiles \
 -ffreestanding -static -mcmodel=medany"
# Match kumo's hart: RV64GC + Zba/Zbb/Zbs + Sstc, privileged 1.12, no H,
# no Sscofpmf/Svpbmt/Svnapot/Svinval.
CPU="rv64,h=false,sscofpmf=false,svpbmt=false,svnapot=false,svinval=false"
CPU="$CPU,zba=true,zbb=true,zbs=true,sstc=true,priv_spec=v1.12.0"
TIMEOUT=${TIMEOUT:-30}

if [ $# -gt 0 ]; then
  tests="$*"
else
  tests=$(sed -n '/# BEGIN TESTS/,/# END TESTS/p' "$here/meson.build" |
          sed -n "s/^[[:space:]]*'\([A-Za-z0-9_.-]*\)',.*/\1/p")
fi

pass=0 fail=0 skip=0
for t in $tests; do
  case $t in
  *-kumo)
    echo "SKIP $t (kumo-only)"
    skip=$((skip + 1))
    continue
    ;;
  esac
  elf="$out/$t.elf"
  if ! $CC $CFLAGS -I"$here" -T "$here/link.ld" "$here/crt.S" "$here/$t.S" \
       -o "$elf" 2>"$out/$t.build.log"; then
    echo "FAIL $t (build failed, see $out/$t.build.log)"
    fail=$((fail + 1))
    continue
  fi
  log="$out/$t.log"
  # QEMU counts minstret exactly only with -icount (jump-fold checks it)
  extra=
  case $t in jump-fold) extra="-icount shift=0" ;; esac
  timeout "$TIMEOUT" $QEMU -M spike -cpu "$CPU" -bios none -nographic $extra \
    -kernel "$elf" >"$log" 2>&1 </dev/null
  rc=$?
  if [ $rc -eq 0 ] && ! grep -q FAIL "$log"; then
    echo "PASS $t"
    pass=$((pass + 1))
  else
    [ $rc -eq 124 ] && echo "(timed out after ${TIMEOUT}s)" >>"$log"
    echo "FAIL $t (exit $rc): $(tr -d '\r' <"$log" | head -c 300)"
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
