// sshkeys.js - what the portal knows of SSH: the key lines a user pastes
// (one OpenSSH public key a line, as in authorized_keys), a key's type,
// comment and SHA-256 fingerprint (as `ssh-keygen -lf` prints it), and how
// to log into a VM (the host port its public IP forwards to TCP 22, as
// `kumo vm ssh` finds it). kumod checks the keys themselves (docs/api.md,
// osProfile): the portal only splits and shows them.

// The key lines of a text: one a line, blank lines and # comments left out.
export function keyLines(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

// "ssh-ed25519 AAAA... me@laptop" -> {type, data, comment}
export function parseKey(line) {
  const [type = '', data = '', ...rest] = line.trim().split(/\s+/);
  return { type, data, comment: rest.join(' ') };
}

// The key's fingerprint, "SHA256:..." (base64 without padding, as OpenSSH
// prints it); null where the browser cannot hash (no WebCrypto outside a
// secure context) or the key data is not base64.
export async function fingerprint(line) {
  const { data } = parseKey(line);
  if (!globalThis.crypto?.subtle || !data) return null;
  let bytes;
  try {
    bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let s = '';
  digest.forEach((b) => {
    s += String.fromCharCode(b);
  });
  return 'SHA256:' + btoa(s).replace(/=+$/, '');
}

// Where ssh reaches the VM: the first public IP port forwarding TCP 22 that
// kumod could open, {address, port, blockedBy}; null when there is none.
export function sshEndpoint(vm) {
  for (const n of vm.networkInterfaces || []) {
    const pip = n.publicIp;
    if (!pip) continue;
    const failed = (p) => (pip.portErrors || []).some((e) => e.port === p.port && String(e.protocol).toLowerCase() === String(p.protocol).toLowerCase());
    const p = (pip.ports || []).find((x) => String(x.protocol).toLowerCase() === 'tcp' && x.port === 22 && !failed(x));
    if (p) return { address: pip.ipAddress, port: p.hostPort, blockedBy: p.blockedBy || null };
  }
  return null;
}
