#!/usr/bin/env bash
# Build every libFuzzer harness in tests/fuzz with clang (ASan + UBSan) and run
# each for FUZZ_SECONDS (default 20) from its seed corpus. Exits non-zero on
# the first crash; the crashing input is left in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-20}
out=build-fuzz
mkdir -p "$out"
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null; then
  echo "[fuzz] $CC not found: install clang (scripts/deps.sh does)" >&2
  exit 1
fi
flags=(-std=gnu11 -g -O1 -Isrc -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -D_GNU_SOURCE)

# FUZZ_ONLY="fuzz_cpu fuzz_control": build and run only these
only() { [ -z "${FUZZ_ONLY:-}" ] || [[ " $FUZZ_ONLY " == *" $1 "* ]]; }

build() { # name, sources...
  local name=$1; shift
  only "$name" || return 0
  "$CC" "${flags[@]}" "$@" -o "$out/$name"
}

build fuzz_elf tests/fuzz/fuzz_elf.c src/machine/elf.c
# the virtio transport and virtqueues: everything the guest puts in the rings
build fuzz_virtq tests/fuzz/fuzz_virtq.c src/devices/virtio_mmio.c src/devices/plic.c \
  src/devices/htif.c src/devices/console.c src/machine/machine.c src/cpu/hart.c src/cpu/exec.c \
  src/cpu/mmu.c src/cpu/csr.c src/cpu/trap.c src/cpu/decode.c src/cpu/fpu.c src/lib/log.c \
  src/machine/device.c src/lib/threadrole.c src/machine/vmstate.c src/cpu/hart_state.c -lfdt \
  -lxxhash -lpthread -lm
# the virtio device back ends, driven by a fake guest (tests/fuzz/fuzz_dev.h)
board=(src/devices/virtio_mmio.c src/devices/plic.c src/devices/htif.c src/devices/console.c
       src/machine/machine.c src/machine/device.c src/cpu/hart.c src/cpu/exec.c src/cpu/mmu.c
       src/cpu/csr.c src/cpu/trap.c src/cpu/decode.c src/cpu/fpu.c src/lib/log.c
       src/lib/threadrole.c src/machine/vmstate.c src/cpu/hart_state.c -Itests/fuzz -lfdt
       -lxxhash -lpthread -lm)
# the translator under the differential checker: random programs, every block run
# translated and interpreted and compared (x86-64 hosts: the only back end)
cpu=(src/machine/machine.c src/machine/device.c src/devices/htif.c src/devices/console.c
     src/cpu/hart.c src/cpu/exec.c src/cpu/mmu.c src/cpu/csr.c src/cpu/trap.c src/cpu/decode.c
     src/cpu/fpu.c src/lib/log.c src/lib/threadrole.c src/machine/vmstate.c src/cpu/hart_state.c
     -lxxhash)
harnesses=()
if [ "$(uname -m)" = x86_64 ]; then
  build fuzz_jit tests/fuzz/fuzz_jit.c "${cpu[@]}" src/cpu/jit/jit.c src/cpu/jit/emit_x86_64.c \
    src/cpu/jit/check.c -DKUMO_JIT=1 -lfdt -lpthread -lm
  harnesses+=(fuzz_jit)
fi
storage=(src/storage/disk.c src/storage/cachemode.c src/storage/raw.c src/storage/qcow2.c src/storage/qcow2_cache.c
         src/storage/qcow2_refcount.c src/storage/qcow2_check.c src/storage/qcow2_create.c
         src/storage/vhd.c src/storage/vmdk.c src/lib/fileset.c)
build fuzz_dev_blk tests/fuzz/fuzz_dev_blk.c "${board[@]}" "${storage[@]}" \
  src/storage/ratelimit.c -lz
build fuzz_dev_net tests/fuzz/fuzz_dev_net.c "${board[@]}" src/devices/netdev.c \
  src/devices/netdev_user.c src/devices/netdev_switch.c src/network/egress.c src/lib/shmring.c -lslirp
build fuzz_dev_small tests/fuzz/fuzz_dev_small.c "${board[@]}" src/devices/virtio_balloon.c \
  src/devices/virtio_console.c src/devices/virtio_rng.c
# the hart: random programs on the whole board, an architectural-state checker
build fuzz_cpu tests/fuzz/fuzz_cpu.c "${board[@]}" src/machine/virt.c src/machine/sbi.c \
  src/machine/boot.c src/machine/elf.c src/machine/fdt.c src/devices/clint.c src/devices/uart.c \
  src/devices/syscon.c src/devices/rtc.c src/devices/pvpanic.c src/devices/virtio_balloon.c \
  src/devices/virtio_input.c \
  src/devices/virtio_console.c src/devices/virtio_rng.c src/devices/virtio_blk.c \
  src/devices/virtio_net.c src/devices/netdev.c src/devices/netdev_user.c \
  src/devices/netdev_switch.c src/network/egress.c src/lib/shmring.c "${storage[@]}" \
  src/storage/ratelimit.c -lslirp -lz
# kumo-vmm's control socket (requests against a real board and CPU controls)
build fuzz_control tests/fuzz/fuzz_control.c "${board[@]}" src/machine/virt.c src/machine/sbi.c \
  src/machine/boot.c src/machine/elf.c src/machine/fdt.c src/devices/clint.c src/devices/uart.c \
  src/devices/syscon.c src/devices/rtc.c src/devices/pvpanic.c src/devices/virtio_balloon.c \
  src/devices/virtio_input.c \
  src/devices/virtio_console.c src/devices/virtio_rng.c src/devices/virtio_blk.c \
  src/devices/virtio_net.c src/devices/netdev.c src/devices/netdev_user.c \
  src/devices/netdev_switch.c src/network/egress.c src/lib/shmring.c "${storage[@]}" \
  src/storage/ratelimit.c src/vmm/cpuctl.c src/vmm/sandbox.c src/vmm/vcpu.c src/vmm/migrate.c -lslirp -lz -ljansson \
  -lseccomp
for img in qcow2 vhd vmdk; do
  build fuzz_$img tests/fuzz/fuzz_$img.c "${storage[@]}" -Itests/fuzz -lz -lpthread
done
# the receiving side of a live migration (the stream from another kumo-vmm)
build fuzz_migrate tests/fuzz/fuzz_migrate.c src/vmm/migrate.c "${board[@]}" src/devices/virtio_blk.c \
  "${storage[@]}" src/storage/ratelimit.c -lz
# the block device on a raw image: request headers, data, discard segments
build fuzz_blk tests/fuzz/fuzz_blk.c src/devices/virtio_blk.c src/devices/virtio_mmio.c \
  src/devices/plic.c src/devices/htif.c src/devices/console.c src/machine/machine.c \
  src/cpu/hart.c src/cpu/exec.c src/cpu/mmu.c src/cpu/csr.c src/cpu/trap.c src/cpu/decode.c \
  src/cpu/fpu.c src/lib/log.c src/lib/threadrole.c src/machine/device.c src/machine/vmstate.c \
  src/cpu/hart_state.c "${storage[@]}" \
  src/storage/ratelimit.c -lfdt -lxxhash -lz -lpthread -lm
# the shared-memory frame rings as the side that does not trust its peer
build fuzz_shmring tests/fuzz/fuzz_shmring.c src/lib/shmring.c
# a saved VM's state into the whole board (every device's loader, the harts')
build fuzz_vmstate tests/fuzz/fuzz_vmstate.c "${board[@]}" src/machine/virt.c src/machine/sbi.c \
  src/machine/boot.c src/machine/elf.c src/machine/fdt.c src/devices/clint.c src/devices/uart.c \
  src/devices/syscon.c src/devices/rtc.c src/devices/pvpanic.c src/devices/virtio_balloon.c \
  src/devices/virtio_input.c src/devices/virtio_console.c src/devices/virtio_rng.c \
  src/devices/virtio_blk.c src/devices/virtio_net.c src/devices/netdev.c src/devices/netdev_user.c \
  src/devices/netdev_switch.c src/network/egress.c src/lib/shmring.c "${storage[@]}" \
  src/storage/ratelimit.c -lslirp -lz -ljansson

# the virtual switch: frames through the data plane; configuration and control
# (seeds: tests/fuzz/gen_net_seeds.py)
net=(src/network/addr.c src/network/packet.c src/network/nsg.c src/network/conntrack.c
     src/network/egress.c
     src/network/dhcp.c src/network/config.c src/network/dns.c src/network/imds.c
     src/network/tcpserv.c src/network/switch.c src/network/vxlan.c src/network/control.c
     -DKUMO_VERSION='"fuzz"' -ljansson)
build fuzz_net_frame tests/fuzz/fuzz_net_frame.c "${net[@]}"
build fuzz_net_config tests/fuzz/fuzz_net_config.c "${net[@]}"
# the metadata service (HTTP and its TCP server) and the DNS parser on their own
build fuzz_net_services tests/fuzz/fuzz_net_services.c "${net[@]}"
# what other hosts send over VXLAN: decapsulation and the inner frames
build fuzz_net_vxlan tests/fuzz/fuzz_net_vxlan.c "${net[@]}"

# kumod's request bodies and query values (seeds: the examples of docs/api.md)
build fuzz_cloud_body tests/fuzz/fuzz_cloud_body.c src/cloud/requests.c src/cloud/body.c \
  src/cloud/validate.c src/cloud/error.c src/cloud/timefmt.c src/network/addr.c \
  src/network/nsg.c src/storage/tiers.c src/storage/cachemode.c src/storage/ratelimit.c \
  src/cloud/autoscale.c -ljansson

# kumod's REST API past the bodies: routing and every handler against a real
# kumod state (the unit tests' fixture; seeds: tests/fuzz/gen_api_seeds.py)
cloud_all=($(ls src/cloud/*.c | grep -v '/main\.c$') src/cloud/cluster/*.c src/cloud/arm/*.c
           "${storage[@]}" src/storage/tiers.c src/storage/ratelimit.c src/lib/locate.c
           src/lib/log.c src/network/addr.c src/network/nsg.c -DKUMO_VERSION='"fuzz"'
           -ljansson -lsqlite3 -lmicrohttpd -lisofs -lcurl -lcrypt -lgnutls -lz -lm -lpthread)
build fuzz_cloud_api tests/fuzz/fuzz_cloud_api.c "${cloud_all[@]}"

# what a guest's agent answers kumod (run commands) on its virtio console
build fuzz_cloud_agent tests/fuzz/fuzz_cloud_agent.c src/cloud/agent.c src/cloud/validate.c \
  src/cloud/error.c src/network/addr.c src/network/nsg.c src/storage/tiers.c \
  src/storage/cachemode.c src/storage/ratelimit.c -ljansson

# the web portal: request headers and the console's WebSocket frames
build fuzz_cloud_portal tests/fuzz/fuzz_cloud_portal.c src/cloud/portal/auth.c \
  src/cloud/portal/console.c -lnettle -lwslay -lpthread

# kumo's --query expressions (a JMESPath subset)
build fuzz_cli_query tests/fuzz/fuzz_cli_query.c src/cli/query.c -ljansson -lm

# kumod's ARM endpoint: template expressions and deployments (seeds: az's own
# vm/vmss create templates), resource ids, routes, bearer tokens, token forms,
# request bodies with bare member names
arm=(src/cloud/arm/expr.c src/cloud/arm/template.c src/cloud/arm/id.c src/cloud/arm/err.c
     src/cloud/arm/apiver.c src/cloud/arm/route.c src/cloud/arm/jwt.c src/cloud/arm/form.c
     src/cloud/arm/lenient.c -ljansson -lgnutls)
build fuzz_arm_expr tests/fuzz/fuzz_arm_expr.c "${arm[@]}"
build fuzz_arm_id tests/fuzz/fuzz_arm_id.c "${arm[@]}"

for h in fuzz_elf fuzz_virtq fuzz_blk fuzz_shmring fuzz_dev_blk fuzz_dev_net fuzz_dev_small fuzz_cpu \
    fuzz_control fuzz_vmstate fuzz_migrate fuzz_qcow2 fuzz_vhd fuzz_vmdk fuzz_net_frame fuzz_net_config fuzz_net_services \
    fuzz_net_vxlan fuzz_cloud_body fuzz_cloud_api fuzz_cloud_agent fuzz_cloud_portal fuzz_cli_query fuzz_arm_expr \
    fuzz_arm_id "${harnesses[@]}"; do
  only "$h" || continue
  corpus="$out/$h-corpus"
  mkdir -p "$corpus"
  seeds="tests/fuzz/seeds/${h#fuzz_}"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "[fuzz] $h for ${seconds}s"
  (cd "$out" && "./$h" -max_total_time="$seconds" -max_len=65536 -print_final_stats=0 \
      "$h-corpus" 2>"$h.log") || { tail -40 "$out/$h.log"; exit 1; }
  grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$out/$h.log" | tail -1 || true
done
