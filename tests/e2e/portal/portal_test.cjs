// portal_test.cjs - the web portal in a real browser (Debian's Chromium,
// driven by playwright-core) against a real kumod with real VMs; run by
// tests/e2e/test_portal.py, which starts kumod and checks the outcome
// through the API as well. Each step prints "step: NAME" and failures
// throw, so the test's log says where it stopped. Screenshots of every
// page go to SHOTS.
//
//   NODE_PATH=$(web/build.sh --modules) node portal_test.cjs URL TOKEN SHOTS GROUP SIZE APPID SECRET KEY
// (APPID and SECRET: a service principal's, for the last sign-in; KEY: a
// private key file made by ssh-keygen, KEY.pub beside it: the VM's admin
// account gets KEY.pub, and the test logs in with KEY through the ssh line
// the VM's page shows)
'use strict';
const fs = require('fs');
const path = require('path');
const { execFile } = require('child_process');
const { chromium } = require('playwright-core');

const [base, token, shots, group, size, spApp, spSecret, sshKey] = process.argv.slice(2);
const VM = 'web1';
const ADMIN = 'portaladmin';

// Run the ssh line the page shows, with the test's key and no host key
// memory (ports are reused by other VMs); {code, stdout, stderr}.
function runSsh(line, command) {
  const words = line.split(' ');
  const opts = ['-i', sshKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=30', '-o', 'LogLevel=ERROR'];
  return new Promise((resolve) => {
    execFile(words[0], [...opts, ...words.slice(1), command], { timeout: 90000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
const problems = []; // console errors, CSP violations, page errors

function step(name) {
  console.log(`step: ${name}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
async function shot(page, name) {
  await page.waitForTimeout(300); // let charts and fonts settle
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ], // and a fresh profile: launch() makes a new user data directory each time
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30000);
    page.on('console', (m) => {
      // refused requests are part of the test (a wrong token, a bad rule);
      // anything else, CSP violations first, is a problem
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
        problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    step('sign-in page');
    await page.goto(`${base}/portal/`);
    await page.getByLabel('API token', { exact: true }).waitFor();
    await shot(page, '01-sign-in');
    step('a wrong token is refused at the field');
    await page.getByLabel('API token', { exact: true }).fill('0'.repeat(64));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.field-error', { hasText: 'not kumod' }).waitFor();
    await shot(page, '02-sign-in-wrong-token');
    step('sign in with the token');
    await page.getByLabel('API token', { exact: true }).fill(token);
    await page.getByLabel('API token', { exact: true }).press('Enter'); // the keyboard works too
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.locator('.meter-row').first().waitFor();
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === 'kumo_session');
    check(c && c.httpOnly && c.sameSite === 'Strict', `HttpOnly SameSite=Strict cookie: ${JSON.stringify(c)}`);
    check(!page.url().includes(token), 'no token in the URL');
    check((await page.evaluate(() => document.cookie)).indexOf('kumo_session') < 0, 'the page cannot read the cookie');
    await shot(page, '03-overview-empty');

    step('the keyboard reaches the navigation');
    await page.goto(`${base}/portal/`); // a fresh load: focus starts at the top
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    check((await page.evaluate(() => document.activeElement.textContent)) === 'Skip to the page', 'Tab: the skip link first');
    let guard = 0;
    while ((await page.evaluate(() => document.activeElement.textContent)) !== 'Virtual machines' && guard++ < 10)
      await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Virtual machines', level: 1 }).waitFor();
    check(page.url().endsWith('/portal/vms'), `Enter on a navigation link opens its page (${page.url()})`);
    check((await page.evaluate(() => document.activeElement.id)) === 'page-title', 'focus moves to the new page title');

    step('the create form: images by name, OS and size; unavailable ones disabled with the reason');
    await page.getByRole('button', { name: 'Create a VM' }).click();
    await page.getByLabel('Name', { exact: true }).fill(VM);
    await page.getByLabel('Resource group', { exact: true }).selectOption(group);
    await page.getByLabel('Size').selectOption(size);
    const images = await page.evaluate(async () => (await (await fetch('/v1/images')).json()).value);
    const imageSelect = page.getByLabel('Image', { exact: true });
    check((await imageSelect.inputValue()) === 'default', `the default image is chosen (${await imageSelect.inputValue()})`);
    for (const im of images) {
      const opt = imageSelect.locator(`option[value="${im.name}"]`);
      const text = await opt.innerText();
      check(text.startsWith(`${im.alias || im.name}: ${im.os}`) && text.includes(`${im.sizeGiB} GiB`), `the option of ${im.name} names it, its OS and size: ${text}`);
      const disabled = await opt.isDisabled();
      check(disabled === (im.provisioningState !== 'Succeeded'), `${im.name} (${im.provisioningState}) is ${disabled ? 'disabled' : 'enabled'}`);
      if (im.provisioningState === 'Unavailable') {
        check(/unavailable: not built on this host/.test(text), `the option says why: ${text}`);
        const why = await page.locator(`[data-unavailable="${im.name}"]`).innerText();
        check(why.includes(im.error) && /build\.sh/.test(why), `the form says how to build ${im.name}: ${why}`);
      }
    }
    step('the administrator account: a password only where the image takes one');
    check(await page.getByLabel('SSH public key', { exact: true }).isChecked(), 'SSH public key by default');
    const pwRadio = page.locator('input[name="auth"][value="password"]');
    check(await pwRadio.isDisabled(), 'the default image (dropbear) takes no password');
    check(/takes SSH keys only/.test(await page.locator('form').innerText()), 'the form says why');
    check((await page.getByLabel('Username').inputValue()) === 'azureuser', 'azureuser by default');
    const pub = fs.readFileSync(`${sshKey}.pub`, 'utf8').trim();
    await page.getByLabel('User data').fill('#!/bin/sh\necho portal-user-data > /root/portal.txt\n');
    check(await page.getByLabel('Public IP', { exact: true }).isChecked(), 'public IP by default');

    step("kumod's errors at the account's fields");
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('SSH public keys').fill('ssh-ed25519 AAAAnot-a-key me@host');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const userField = page.locator('.field', { has: page.getByLabel('Username') });
    await userField.locator('.field-error', { hasText: 'osProfile.adminUsername' }).waitFor();
    check(/'root' is reserved/.test(await userField.locator('.field-error').innerText()), 'the reserved name is refused at the field');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const keyField = page.locator('.field', { has: page.getByLabel('SSH public keys') });
    await keyField.locator('.field-error', { hasText: 'osProfile.sshPublicKeys[0]' }).waitFor();
    const keyMsg = await keyField.locator('.field-error').innerText();
    check(/^Key 1: /.test(keyMsg) && /ssh-ed25519 key|base64/.test(keyMsg), `the bad key is refused at the field: ${keyMsg}`);
    check((await page.getByLabel('SSH public keys').getAttribute('aria-invalid')) === 'true', 'the key field is marked invalid');
    check(page.url().endsWith('/portal/vms/new'), 'still on the form: nothing was made');
    await shot(page, '04-vm-create-key-error');
    step('a password where the image takes one (cloud-init), and its errors at the field');
    await imageSelect.selectOption('ci-test');
    check(!(await pwRadio.isDisabled()), 'a cloud-init image takes a password');
    await pwRadio.check();
    const pwInput = page.locator('input[name="adminPassword"]');
    const pwConfirm = page.locator('input[name="confirmPassword"]');
    await pwInput.fill('short');
    await pwConfirm.fill('short');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const pwField = page.locator('.field', { has: pwInput });
    await pwField.locator('.field-error', { hasText: 'osProfile.adminPassword' }).waitFor();
    check(/12-123 characters/.test(await pwField.locator('.field-error').innerText()), 'kumod says what a password must be');
    await shot(page, '04-vm-create-password-error');
    await pwInput.fill('Correct-Horse-9-battery');
    await pwConfirm.fill('Correct-Horse-9-batterx');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('.field', { has: pwConfirm }).locator('.field-error', { hasText: 'differ' }).waitFor();
    check(page.url().endsWith('/portal/vms/new'), 'still on the form: nothing was made');
    await imageSelect.selectOption('default');
    check((await pwRadio.isDisabled()) && (await page.getByLabel('SSH public key', { exact: true }).isChecked()), 'back to the default image: keys again');
    check((await page.getByLabel('SSH public keys').inputValue()).includes('AAAAnot-a-key'), 'the keys typed before are kept');

    step('a private key never leaves the page');
    await page.getByLabel('SSH public keys').fill(fs.readFileSync(sshKey, 'utf8'));
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await keyField.locator('.field-error', { hasText: 'This is a private key' }).waitFor();

    step('create a VM from the form with the admin account and the key');
    await page.getByLabel('SSH public keys').fill(pub);
    await shot(page, '04-vm-create-form');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(`**/portal/vms/${group}/${VM}`);
    step('see it Running');
    await page.locator('.subtitle [data-state="Running"]').waitFor({ timeout: 180000 });
    await page.locator('.kv dd', { hasText: '127.0.0.1:' }).first().waitFor();

    step("the VM's page: its admin account, its provisioning and how to log in");
    const admin = page.locator('section[aria-label="Administrator account"]');
    check((await admin.locator('[data-admin-user]').innerText()) === ADMIN, 'the admin user is shown');
    const [ktype, , kcomment] = pub.split(' ');
    const keyItem = admin.locator('[data-key]');
    await keyItem.locator('code', { hasText: 'SHA256:' }).waitFor();
    const fpShown = (await keyItem.locator('code').innerText()).trim();
    const fpReal = await new Promise((resolve, reject) =>
      execFile('ssh-keygen', ['-lf', `${sshKey}.pub`], (err, out) => (err ? reject(err) : resolve(out.split(' ')[1]))),
    );
    check(fpShown === fpReal, `the key's fingerprint is ssh-keygen's: ${fpShown} vs ${fpReal}`);
    check((await keyItem.innerText()).includes(kcomment) && (await keyItem.innerText()).includes(ktype), 'the key comment and type are shown');
    const sshLine = (await page.locator('[data-copy="SSH command"]').innerText()).trim();
    const m = /^ssh -p (\d+) ([a-z_][a-z0-9_-]*)@(127\.0\.0\.1)$/.exec(sshLine);
    check(m && m[2] === ADMIN, `the ssh line: ${sshLine}`);
    const vmJson = await page.evaluate(async ([g, n]) => (await fetch(`/v1/resourceGroups/${g}/virtualMachines/${n}`)).json(), [group, VM]);
    const p22 = vmJson.networkInterfaces[0].publicIp.ports.find((p) => p.port === 22);
    check(Number(m[1]) === p22.hostPort, `the ssh line's port is the one forwarded to TCP 22 (${m[1]} vs ${p22.hostPort})`);
    check((await page.locator('[data-copy="kumo command"]').innerText()).trim() === `kumo vm ssh -g ${group} -n ${VM}`, 'the kumo vm ssh line');
    await admin.locator('[data-os-provisioning="Succeeded"]').waitFor({ timeout: 300000 });
    await admin.locator('td', { hasText: 'init-network' }).waitFor();
    await page.locator('.subtitle [data-state="Creating"]').waitFor({ state: 'detached' });
    await shot(page, '05-vm-overview');

    step('log in with the ssh line the page shows');
    let login;
    for (let i = 0; i < 30; i++) {
      // dropbear may start a moment after the guest reported its provisioning
      login = await runSsh(sshLine, 'id -un; cat /proc/sys/kernel/hostname; echo ssh-$((6*7))-ok');
      if (login.code !== 255) break;
      await page.waitForTimeout(3000);
    }
    check(login.code === 0 && login.stdout.split(/\s+/).filter(Boolean).join(' ') === `${ADMIN} ${VM} ssh-42-ok`, `ssh ran the command in the VM as ${ADMIN}: ${JSON.stringify(login)}`);
    console.log(`ssh login: ${login.stdout.trim().replace(/\n/g, ' | ')}`);

    step('reload keeps the page');
    await page.evaluate(() => (window.__kumoMarker = 1));
    await page.reload();
    await page.getByRole('heading', { name: VM, level: 1 }).waitFor();
    check((await page.evaluate(() => window.__kumoMarker)) === undefined, 'it really reloaded');

    step('the console: type a command, read its output');
    await page.getByRole('link', { name: 'Console' }).click();
    await page.waitForURL(`**/portal/vms/${group}/${VM}/console`);
    await page.locator('.console-status.open').waitFor();
    const term = page.locator('.console-term');
    await term.click();
    let seen = false;
    for (let i = 0; i < 60 && !seen; i++) {
      // the guest may still be booting: until its shell answers, ask again
      await page.keyboard.type('echo kumo-$((6*7))-ok\n', { delay: 5 });
      try {
        await page.locator('.xterm-rows', { hasText: 'kumo-42-ok' }).waitFor({ timeout: 4000 });
        seen = true;
      } catch {
        /* not yet */
      }
    }
    check(seen, 'the guest computed 6*7 on the console');
    await page.keyboard.type('cat /root/portal.txt; uname -m\n', { delay: 5 });
    await page.locator('.xterm-rows', { hasText: 'riscv64' }).waitFor({ timeout: 20000 });
    await shot(page, '06-vm-console');

    step('the CPU chart draws points');
    await page.getByRole('link', { name: 'Monitoring' }).click();
    const cpu = page.locator('.chart-box').first();
    // counted in one go in the page, again until it holds: a live update
    // redraws the chart (its canvas may be between two renders)
    const drawn = await page.waitForFunction(() => {
      const el = document.querySelector('.chart-box');
      const cv = el && el.querySelector('canvas');
      if (!cv || Number(el.dataset.points || 0) < 3) return 0;
      const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      let blue = 0; // the CPU series' stroke, #1f6feb
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 31) < 30 && Math.abs(d[i + 1] - 111) < 30 && Math.abs(d[i + 2] - 235) < 30 && d[i + 3] > 200) blue++;
      return blue > 30 ? blue : 0;
    }, null, { timeout: 60000 }).then((h) => h.jsonValue()).catch(() => 0);
    check(drawn > 30, `the CPU line is on the canvas (${drawn} pixels)`);
    const before = Number(await cpu.getAttribute('data-points'));
    await page.waitForFunction((n) => Number(document.querySelector('.chart-box')?.dataset.points || 0) > n, before, { timeout: 30000 });
    await shot(page, '07-vm-monitoring');

    step('the boot log');
    await page.getByRole('link', { name: 'Boot log' }).click();
    await page.locator('pre.bootlog', { hasText: 'Linux version' }).waitFor();
    await shot(page, '08-vm-boot-log');

    step('an NSG rule with a bad port: the error is at the field');
    await page.getByRole('link', { name: 'Network security groups' }).click();
    await page.getByRole('link', { name: `${VM}-nsg` }).click();
    await page.getByRole('heading', { name: 'Add a rule' }).waitFor();
    const form = page.locator('form.rule-form');
    await form.getByLabel('Name').fill('AllowWeb');
    await form.getByLabel('Priority').fill('1010');
    await form.getByLabel('Destination ports').fill('99999');
    await form.getByRole('button', { name: 'Add rule' }).click();
    const portField = form.locator('.field', { has: page.getByLabel('Destination ports') });
    await portField.locator('.field-error').waitFor();
    const msg = await portField.locator('.field-error').innerText();
    check(/destinationPortRange/.test(msg) && /99999/.test(msg), `kumod's message at the field: ${msg}`);
    check((await form.getByLabel('Destination ports').getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
    await shot(page, '09-nsg-rule-error');
    step('then a good one');
    await form.getByLabel('Destination ports').fill('80');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('tr', { hasText: 'AllowWeb' }).locator('td', { hasText: '80' }).first().waitFor();
    await shot(page, '10-nsg-rules');

    step('stop the VM: the state changes without a reload');
    await page.goto(`${base}/portal/vms`);
    await page.locator(`a[data-vm="${VM}"]`).waitFor();
    await page.evaluate(() => (window.__kumoMarker = 2));
    const row = page.locator('tr', { has: page.locator(`a[data-vm="${VM}"]`) });
    await row.locator('[data-state="Running"]').waitFor();
    await row.getByRole('button', { name: 'Stop' }).click();
    await row.locator('[data-state="Stopping"], [data-state="Stopped"]').first().waitFor();
    await shot(page, '11-vms-stopping');
    await row.locator('[data-state="Stopped"]').waitFor({ timeout: 90000 });
    check((await page.evaluate(() => window.__kumoMarker)) === 2, 'no reload happened');
    await shot(page, '12-vms-stopped');

    step('every page');
    for (const [p, name, heading] of [
      ['/portal/', '13-overview', 'Overview'],
      ['/portal/disks', '14-disks', 'Disks and snapshots'],
      ['/portal/networks', '15-networks', 'Virtual networks'],
      ['/portal/public-ips', '16-public-ips', 'Public IP addresses'],
      ['/portal/scale-sets', '17-scale-sets', 'Scale sets'],
      ['/portal/cost', '18-cost', 'Cost'],
      ['/portal/nsgs', '19-nsgs', 'Network security groups'],
    ]) {
      await page.goto(base + p);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState('networkidle').catch(() => {});
      check(!(await page.locator('.error-box').count()), `no error on ${p}: ${await page.locator('.error-box').allInnerTexts()}`);
      if (p === '/portal/cost') await page.locator('.bar-chart svg[data-points]').first().waitFor();
      await shot(page, name);
    }

    step('a scale set with its instances and autoscale history');
    await page.goto(`${base}/portal/scale-sets`);
    await page.getByRole('link', { name: 'pool', exact: true }).click();
    await page.getByRole('heading', { name: 'pool', level: 1 }).waitFor();
    await page.locator('section[aria-label="Autoscale history"] tbody tr').first().waitFor({ timeout: 60000 });
    await page.getByText('0 to 2 (default 0)').waitFor();
    await shot(page, '20-scale-set');

    step('sign out');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token', { exact: true }).waitFor();
    const after = await page.evaluate(async () => (await fetch('/v1/resourceGroups')).status);
    check(after === 401, `the API refuses the browser after sign-out (${after})`);

    step('sign in as a service principal');
    await page.getByLabel('a service principal').check();
    await page.getByLabel('Application (client) ID').fill(spApp);
    await page.getByLabel('Secret', { exact: true }).fill(spSecret + 'x');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.field-error', { hasText: 'no service principal has this' }).waitFor();
    await page.getByLabel('Secret', { exact: true }).fill(spSecret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.topbar-who', { hasText: `service principal ${spApp}` }).waitFor();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.locator('.meter-row').first().waitFor();
    await shot(page, '21-signed-in-as-service-principal');

    check(!problems.length, `no console errors or CSP violations:\n${problems.join('\n')}`);
    console.log('portal test: all steps passed');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
});
