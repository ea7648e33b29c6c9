"""Bounded logs: a guest that prints without end keeps its console log under
--log-limit (the older half dropped in place), and a guest that triggers
warnings over and over gets a bounded number of lines in the VMM's log."""
import os
import subprocess

from conftest import boot_cmd, run


def test_console_log_stays_under_its_limit(vmm, guest, tmp_path):
    log = tmp_path / "console.log"
    # 3.3 MB of output against a limit of 1 MiB
    cmd = "yes kumo-console-line-0123456789 | head -n 120000; echo last-line-$((6 * 7))"
    r = run(boot_cmd(vmm, guest, cmd, extra=["--console", "none", "--console-log", str(log),
                                             "--log-limit", "1"]), timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    size = log.stat().st_size
    assert 512 * 1024 <= size <= 1024 * 1024, size
    text = log.read_text(errors="replace")
    assert text.startswith("[kumo-vmm: older console output dropped"), text[:200]
    assert "last-line-42" in text  # the newest output is kept
    assert "Linux version" not in text  # the oldest is gone
    # whole lines after the note (the guest's tty ends them with \r\n)
    first = text.split("\n")[1].rstrip("\r")
    assert first == "kumo-console-line-0123456789", first
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_console_log_without_limit_keeps_everything(vmm, guest, tmp_path):
    log = tmp_path / "console.log"
    cmd = "yes kumo-console-line-0123456789 | head -n 50000; echo end"
    r = run(boot_cmd(vmm, guest, cmd, extra=["--console", "none", "--console-log", str(log),
                                             "--log-limit", "0"]), timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    text = log.read_text(errors="replace")
    assert "Linux version" in text and text.count("kumo-console-line-") >= 50000


def test_guest_triggered_warnings_are_rate_limited(vmm, progs):
    r = run([vmm, "--elf", str(progs / "htifspam.elf")], timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if "HTIF: unknown command" in ln]
    assert 1 <= len(lines) <= 10, len(lines)
