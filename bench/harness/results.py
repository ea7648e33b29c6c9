"""Results of one harness invocation: rows of samples, failures, the report.

A row is one line of the result table: a workload measured under several
variants ("kumo", "qemu", "native"), each with one sample per repetition. A
failure is kept next to the row it belongs to and is never turned into a number.
"""

import datetime
import json
import math
import os
import platform
import socket
import statistics
import subprocess


class Row:
    def __init__(self, name, group, unit, desc, kumo_label="kumo"):
        self.name = name
        self.group = group
        self.unit = unit
        self.desc = desc
        self.kumo_label = kumo_label   # what "kumo" means in this row
        self.target = None             # the rate configured (limiter rows)
        self.samples = {}              # variant -> [value, ...]
        self.extra = {}                # variant -> [dict, ...] (context per sample)

    def add(self, variant, value, extra=None):
        self.samples.setdefault(variant, []).append(value)
        if extra:
            self.extra.setdefault(variant, []).append(extra)

    def stats(self, variant):
        v = self.samples.get(variant)
        if not v:
            return None
        return {"min": min(v), "median": statistics.median(v), "max": max(v), "n": len(v)}


class Results:
    def __init__(self):
        self.rows = {}
        self.failures = []
        self.notes = []

    def row(self, name, group, unit, desc, kumo_label="kumo"):
        key = (group, name)
        if key not in self.rows:
            self.rows[key] = Row(name, group, unit, desc, kumo_label)
        return self.rows[key]

    def fail(self, row, variant, rep, message, log=None):
        f = {"row": row, "variant": variant, "rep": rep, "message": message}
        if log:
            f["log"] = log
        self.failures.append(f)
        print("\n!!! FAILURE: %s [%s, rep %s]: %s%s\n"
              % (row, variant, rep, message, ("\n!!!   console log: " + log) if log else ""),
              flush=True)

    def note(self, text):
        self.notes.append(text)

    # --- printing -------------------------------------------------------------
    def print_tables(self, out):
        groups = {}
        for r in self.rows.values():
            groups.setdefault(r.group, []).append(r)
        for group in ("boot", "boot-cpu", "cpu", "cpu-cpu", "scaling", "scaling-cpu", "tools", "tools-cpu",
                      "disk", "disk-cpu", "limits", "memory", "idle", "density"):
            rows = groups.get(group)
            if not rows:
                continue
            if group == "disk":
                self._print_rates(rows, out)
            elif group == "limits":
                self._print_limits(rows, out)
            elif group == "memory":
                self._print_memory(rows, out)
            elif group == "density":
                self._print_density(rows, out)
            else:
                self._print_compare(group, rows, out)
        if group_has_scaling(self.rows):
            self._print_scaling(out)
        self._print_geomean(out)
        if self.notes:
            out.write("\nNotes:\n")
            for n in self.notes:
                out.write("  - %s\n" % n)
        if self.failures:
            out.write("\n%d FAILURE(S):\n" % len(self.failures))
            for f in self.failures:
                out.write("  %s [%s, rep %s]: %s\n" % (f["row"], f["variant"], f["rep"], f["message"]))
                if f.get("log"):
                    out.write("      log: %s\n" % f["log"])
        else:
            out.write("\nNo failures.\n")

    def _print_compare(self, group, rows, out):
        native = any(r.samples.get("native") for r in rows)
        title = {"boot": "Boot (wall time from process start, s)",
                 "cpu": "Guest CPU programs, 1 thread on 1 vCPU (s, BENCH START -> END)",
                 "scaling": "Guest CPU programs, 2 threads on 2 vCPUs (s)",
                 "tools": "Busybox programs in the guest, 8 MiB input (s)",
                 "idle": "Idle guests: host CPU over 10 s (% of one core) and RSS",
                 "boot-cpu": "Boot: CPU time of the VMM process, start to exit (s)",
                 "cpu-cpu": "The same, CPU time of the VMM process (native: of the program),"
                            " s: robust to other load on the host",
                 "scaling-cpu": "The same, CPU time (all vCPU threads together), s",
                 "tools-cpu": "The same, CPU time of the VMM process, s",
                 "disk-cpu": "Disks: CPU time of the VMM process per operation (us/op) or per "
                             "MiB (ms/MiB), BENCH START -> END; QEMU/kumo above 1: kumo "
                             "cheaper"}[group]
        out.write("\n%s\n" % title)
        interp = any(r.samples.get("interp") for r in rows)
        head = ["workload", "unit", "kumo", "QEMU", "QEMU/kumo"]
        if interp:
            head += ["kumo --jit off", "QEMU/off"]
        head += ["kumo min/med/max", "QEMU min/med/max"]
        if native:
            head += ["native", "kumo x nat", "QEMU x nat"]
        table = [head]
        for r in rows:
            k, q, n = r.stats("kumo"), r.stats("qemu"), r.stats("native")
            line = [r.name + ("" if r.kumo_label == "kumo" else " [%s]" % r.kumo_label), r.unit,
                    _fmt(k and k["median"]), _fmt(q and q["median"]),
                    _ratio(q and q["median"], k and k["median"])]
            if interp:
                i = r.stats("interp")
                line += [_fmt(i and i["median"]), _ratio(q and q["median"], i and i["median"])]
            line += [_mmm(k), _mmm(q)]
            if native:
                line += [_fmt(n and n["median"]),
                         _ratio(k and k["median"], n and n["median"]),
                         _ratio(q and q["median"], n and n["median"])]
            table.append(line)
        _write_table(table, out)

    def _print_geomean(self, out):
        """The goal's figure: geometric mean of QEMU/kumo over the cpu and tools
        rows (wall and VMM CPU time), and the lowest row."""
        lines = []
        for label, groups in (("wall time", ("cpu", "tools")), ("CPU time", ("cpu-cpu", "tools-cpu"))):
            for variant, name in (("kumo", "kumo"), ("interp", "kumo --jit off")):
                ratios = []
                for r in self.rows.values():
                    k, q = r.stats(variant), r.stats("qemu")
                    if r.group in groups and k and q and k["median"]:
                        ratios.append((q["median"] / k["median"], r.name))
                if not ratios:
                    continue
                g = math.exp(sum(math.log(x) for x, _ in ratios) / len(ratios))
                low = min(ratios)
                lines.append("  %-15s %-10s %.2f over %d rows (lowest: %s %.2f)"
                             % (name, label, g, len(ratios), low[1], low[0]))
        if lines:
            out.write("\nGeometric mean of QEMU/kumo, cpu and tools rows (above 1: kumo faster)\n")
            for line in lines:
                out.write(line + "\n")

    def _print_rates(self, rows, out):
        out.write("\nDisks: rates the guest measured (higher is better; kumo/QEMU above 1: "
                  "kumo faster)\n")
        table = [["workload", "unit", "kumo", "QEMU", "kumo/QEMU", "kumo min/med/max",
                  "QEMU min/med/max"]]
        for r in rows:
            k, q = r.stats("kumo"), r.stats("qemu")
            table.append([r.name, r.unit, _fmt(k and k["median"]), _fmt(q and q["median"]),
                          _ratio(k and k["median"], q and q["median"]), _mmm(k), _mmm(q)])
        _write_table(table, out)

    def _print_limits(self, rows, out):
        out.write("\nDisk rate limiter: rate the guest measured against the limit set "
                  "(medians; deviation from the limit)\n")
        table = [["workload", "unit", "limit", "kumo", "kumo dev", "kumo min/med/max",
                  "QEMU", "QEMU dev", "QEMU min/med/max"]]
        for r in rows:
            k, q = r.stats("kumo"), r.stats("qemu")
            # one decimal: the deviation from the limit is the point here
            table.append([r.name, r.unit, _fmt(r.target), _f1(k and k["median"]),
                          _dev(k and k["median"], r.target), _mmm(k, _f1),
                          _f1(q and q["median"]), _dev(q and q["median"], r.target),
                          _mmm(q, _f1)])
        _write_table(table, out)

    def _print_scaling(self, out):
        out.write("\nScaling: speedup of 2 threads on 2 vCPUs over 1 thread on 1 vCPU"
                  " (medians; native: 2 vs 1 thread)\n")
        table = [["program", "native", "kumo", "QEMU"]]
        for r in self.rows.values():
            if r.group != "scaling":
                continue
            one = next((o for o in self.rows.values()
                        if o.group == "cpu" and o.name == r.name[:-3]), None)  # intmath-2t
            line = [r.name[:-3]]
            for v in ("native", "kumo", "qemu"):
                a, b = one and one.stats(v), r.stats(v)
                line.append(_ratio(a and a["median"], b and b["median"]))
            table.append(line)
        _write_table(table, out)

    def _print_memory(self, rows, out):
        out.write("\nMemory: one idle guest, 256 MiB, 1 vCPU (MiB; medians)\n")
        interp = any(r.samples.get("interp") for r in rows)
        table = [["measure", "kumo", "QEMU", "QEMU/kumo"] + (["kumo --jit off"] if interp else [])]
        for r in rows:
            k, q, i = r.stats("kumo"), r.stats("qemu"), r.stats("interp")
            table.append([r.name, _fmt(k and k["median"]), _fmt(q and q["median"]),
                          _ratio(q and q["median"], k and k["median"])] +
                         ([_fmt(i and i["median"])] if interp else []))
        _write_table(table, out)

    def _print_density(self, rows, out):
        out.write("\nDensity: idle 128 MiB kumo guests started one after another\n")
        for r in rows:
            for variant, vals in r.samples.items():
                out.write("  %-40s %s %s\n" % (r.name, _fmt(vals[-1]), r.unit))
            for variant, ex in r.extra.items():
                for e in ex:
                    for k, v in e.items():
                        out.write("    %s: %s\n" % (k, v))

    # --- JSON -----------------------------------------------------------------
    def to_json(self, machine, config):
        rows = []
        for r in self.rows.values():
            d = {"name": r.name, "group": r.group, "unit": r.unit, "description": r.desc,
                 "kumo_variant": r.kumo_label, "samples": r.samples,
                 "stats": {v: r.stats(v) for v in r.samples}}
            k, q, n = r.stats("kumo"), r.stats("qemu"), r.stats("native")
            if k and q and k["median"]:
                d["qemu_over_kumo"] = q["median"] / k["median"]
            i = r.stats("interp")
            if i and q and i["median"]:
                d["qemu_over_interp"] = q["median"] / i["median"]
            if k and n and n["median"]:
                d["kumo_over_native"] = k["median"] / n["median"]
            if q and n and n["median"]:
                d["qemu_over_native"] = q["median"] / n["median"]
            if r.target is not None:
                d["target"] = r.target
            if r.extra:
                d["extra"] = r.extra
            rows.append(d)
        return {"machine": machine, "config": config, "rows": rows,
                "failures": self.failures, "notes": self.notes}


def group_has_scaling(rows):
    return any(r.group == "scaling" for r in rows.values())


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3f" % v if abs(v) < 1 else "%.2f" % v


def _ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return "%.2f" % (a / b)


def _dev(v, target):
    if v is None or not target:
        return "-"
    return "%+.2f%%" % (100.0 * (v / target - 1))


def _mmm(s, fmt=None):
    if not s:
        return "-"
    fmt = fmt or _fmt
    return "%s/%s/%s" % (fmt(s["min"]), fmt(s["median"]), fmt(s["max"]))


def _f1(v):
    return "-" if v is None else "%.1f" % v


def _write_table(table, out):
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        out.write("  " + "  ".join(cells) + "\n")
        if n == 0:
            out.write("  " + "  ".join("-" * w for w in widths) + "\n")


# --- the machine ---------------------------------------------------------------

def _cmd(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_description(paths):
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    os_name = None
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    rev = _cmd(["git", "-C", paths.root, "rev-parse", "HEAD"])
    dirty = _cmd(["git", "-C", paths.root, "status", "--porcelain", "--untracked-files=no"])
    guest_release = None
    try:
        with open(os.path.join(paths.guest_dir, "kernel.release")) as f:
            guest_release = f.read().strip()
    except (OSError, TypeError):
        pass
    qemu = _cmd([paths.qemu, "--version"]) if paths.qemu else None
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_mib": mem_kib // 1024 if mem_kib else None,
        "kernel": platform.release(),
        "os": os_name,
        "qemu_version": qemu.splitlines()[0] if qemu else None,
        "kumo_revision": (rev or "unknown") + ("-dirty" if dirty else ""),
        "kumo_vmm": getattr(paths, "kumo_source", paths.kumo_vmm),
        "kumo_vmm_sha256": getattr(paths, "kumo_sha256", None),
        "guest_kernel": guest_release,
        "guest_dir": paths.guest_dir,
        "gcc": (_cmd(["gcc", "--version"]) or "").splitlines()[:1],
        "cross_gcc": (_cmd(["riscv64-linux-gnu-gcc", "--version"]) or "").splitlines()[:1],
        "fw_jump": paths.fw_jump,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
