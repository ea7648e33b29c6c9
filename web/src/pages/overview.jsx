// overview.jsx - the first page: each host's capacity, the VMs by power
// state, and what this month cost so far.
import { get, listAll } from '../api.js';
import { Link, route } from '../router.jsx';
import { Badge, Card, ErrorBox, Loading, Page, Table, fmt, usePoll } from '../ui.jsx';
import { BarChart } from '../charts.jsx';

export function monthStart() {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
}

function Meter({ label, used, total, unit }) {
  const pct = total ? Math.round((used / total) * 100) : 0;
  return (
    <div class="meter-row">
      <span class="meter-label">{label}</span>
      <meter min="0" max={total || 1} value={used} low={(total || 1) * 0.7} high={(total || 1) * 0.9} optimum={0}>
        {pct} %
      </meter>
      <span class="meter-text">
        {unit === 'MiB' ? `${fmt.mib(used)} of ${fmt.mib(total)}` : `${used} of ${total} ${unit}`} ({pct} %)
      </span>
    </div>
  );
}

const STATES = ['Running', 'Starting', 'Stopping', 'Stopped', 'Deallocating', 'Deallocated', 'Creating'];

export function Overview() {
  const hosts = usePoll(() => get('/v1/hosts'), 5000);
  const vms = usePoll(() => listAll('virtualMachines'), 3000);
  const cost = usePoll(() => get(`/v1/cost?from=${encodeURIComponent(monthStart())}&groupBy=resourceGroup`), 15000);
  const counts = {};
  (vms.data || []).forEach((v) => {
    counts[v.powerState] = (counts[v.powerState] || 0) + 1;
  });
  return (
    <Page title="Overview" subtitle="This kumo cloud at a glance.">
      <div class="grid">
        <Card title="Host capacity">
          <ErrorBox error={hosts.error} />
          {!hosts.data && !hosts.error && <Loading what="hosts" />}
          {hosts.data?.value.map((h) => (
            <div class="host" key={h.name}>
              <h3>
                {h.name} <span class="muted small">({h.location}; {h.cpus} cores, {fmt.mib(h.memoryMiB)})</span>
              </h3>
              <Meter label="vCPUs" used={h.allocated.vcpus} total={h.capacity.vcpus} unit="vCPUs" />
              <Meter label="Memory" used={h.allocated.memoryMiB} total={h.capacity.memoryMiB} unit="MiB" />
              <p class="muted small">
                {h.allocated.vms} VM{h.allocated.vms === 1 ? ' holds' : 's hold'} capacity here; CPU allocation ratio{' '}
                {h.cpuAllocationRatio}, RAM ratio {h.ramAllocationRatio}, {fmt.mib(h.reservedMemoryMiB)} kept for the host.
              </p>
            </div>
          ))}
        </Card>
        <Card title="Virtual machines by state" actions={<Link href="/vms">All VMs</Link>}>
          <ErrorBox error={vms.error} />
          {!vms.data && !vms.error && <Loading what="VMs" />}
          {vms.data && (
            <>
              <p class="big-number">
                {vms.data.length} <span class="muted">VM{vms.data.length === 1 ? '' : 's'}</span>
              </p>
              <ul class="state-list">
                {STATES.filter((s) => counts[s]).map((s) => (
                  <li key={s}>
                    <Badge state={s} /> <strong data-count={s}>{counts[s]}</strong>
                  </li>
                ))}
              </ul>
              {vms.data.length === 0 && (
                <p>
                  No VMs yet. <Link href="/vms/new">Create one</Link>.
                </p>
              )}
            </>
          )}
        </Card>
        <Card title="Cost this month" actions={<Link href="/cost">Cost details</Link>}>
          <ErrorBox error={cost.error} />
          {!cost.data && !cost.error && <Loading what="cost" />}
          {cost.data && (
            <>
              <p class="big-number">{fmt.money(cost.data.total)}</p>
              <p class="muted small">
                since {fmt.time(cost.data.from)} ({cost.data.currency})
              </p>
              {cost.data.rows.length > 0 && (
                <BarChart compact title="By resource group" unit="$" rows={cost.data.rows.map((r) => ({ label: r.key, value: r.cost }))} />
              )}
            </>
          )}
        </Card>
      </div>
      {vms.data && vms.data.some((v) => v.provisioningState !== 'Succeeded') && (
        <Card title="Operations in progress or failed">
          <Table
            columns={[
              { label: 'VM', render: (v) => <Link href={route('vms', v.resourceGroup, v.name)}>{v.name}</Link> },
              { label: 'Group', key: 'resourceGroup' },
              { label: 'Power state', render: (v) => <Badge state={v.powerState} /> },
              { label: 'Provisioning', render: (v) => <Badge state={v.provisioningState} /> },
              { label: 'Error', render: (v) => v.error?.message || '' },
            ]}
            rows={vms.data.filter((v) => v.provisioningState !== 'Succeeded')}
          />
        </Card>
      )}
    </Page>
  );
}
