// scalesets.jsx - scale sets: the list, and one set with its instances,
// its capacity, its autoscale setting and the autoscale history.
import { useState } from 'preact/hooks';
import { enc, get, listAll, post, rgPath } from '../api.js';
import { Link, route } from '../router.jsx';
import { Badge, Card, ErrorBox, Field, KeyValues, Loading, Page, Table, fmt, usePoll } from '../ui.jsx';

export function ScaleSetList() {
  const sets = usePoll(() => listAll('virtualMachineScaleSets'), 3000);
  return (
    <Page title="Scale sets" subtitle="Identical VMs kept at a capacity, optionally behind a load balancer and scaled by rules.">
      <ErrorBox error={sets.error} />
      <Card>
        <Table
          rows={sets.data}
          empty={
            <>
              No scale sets. Create one with <code>kumo vmss create</code>.
            </>
          }
          columns={[
            { label: 'Name', render: (s) => <Link href={route('scale-sets', s.resourceGroup, s.name)}>{s.name}</Link> },
            { label: 'Group', key: 'resourceGroup' },
            { label: 'Size', render: (s) => s.model.size },
            { label: 'Capacity', key: 'capacity' },
            { label: 'Running / total', render: (s) => `${s.instances.running} / ${s.instances.total}` },
            { label: 'Load balancer', render: (s) => (s.loadBalancer ? `${s.loadBalancer.ipAddress}:${s.loadBalancer.frontendPort} → ${s.loadBalancer.backendPort}` : '-') },
            { label: 'State', render: (s) => <Badge state={s.provisioningState} /> },
          ]}
        />
      </Card>
    </Page>
  );
}

export function ScaleSetPage({ rg, name }) {
  const base = `${rgPath(rg)}/virtualMachineScaleSets/${enc(name)}`;
  const set = usePoll(() => get(base), 3000, [rg, name]);
  const inst = usePoll(() => get(`${base}/instances`), 3000, [rg, name]);
  const as = set.data?.autoscaleSetting;
  const asName = typeof as === 'string' ? as : as?.name;
  const asData = usePoll(
    async () => {
      if (!asName) return null;
      const [setting, history] = await Promise.all([
        get(`${rgPath(rg)}/autoscaleSettings/${enc(asName)}`),
        get(`${rgPath(rg)}/autoscaleSettings/${enc(asName)}/history`),
      ]);
      return { setting, history: history.value };
    },
    10000,
    [rg, asName],
  );
  const [cap, setCap] = useState('');
  const [capErr, setCapErr] = useState(null);
  const s = set.data;
  if (!s) return <Page title={name}>{set.error ? <ErrorBox error={set.error} /> : <Loading what="the scale set" />}</Page>;
  const scale = async (e) => {
    e.preventDefault();
    setCapErr(null);
    try {
      await post(`${base}/scale`, { capacity: /^\d+$/.test(cap) ? Number(cap) : cap });
      setCap('');
      set.reload();
    } catch (x) {
      setCapErr(x.message);
    }
  };
  const a = asData.data;
  return (
    <Page title={s.name} subtitle={<>Scale set in <strong>{s.resourceGroup}</strong> · <Badge state={s.provisioningState} /></>}>
      <ErrorBox error={set.error} />
      {s.error && <div class="error-box" role="alert">{s.error.message}</div>}
      <div class="grid two">
        <Card title="Model and capacity">
          <KeyValues
            items={[
              ['Capacity', s.capacity],
              ['Instances', `${s.instances.running} running of ${s.instances.total}; ${s.instances.latestModel} on the latest model`],
              ['Size', s.model.size],
              ['Image', s.model.image],
              ['Network', `${s.model.vnet} / ${s.model.subnet}, NSG ${s.model.nsg || '-'}`],
              ['Model version', s.model.version],
              ['Load balancer', s.loadBalancer ? `${s.loadBalancer.ipAddress}:${s.loadBalancer.frontendPort} → port ${s.loadBalancer.backendPort} (${s.loadBalancer.probe.protocol} probe)` : 'none'],
            ]}
          />
          <form class="inline-form" onSubmit={scale} aria-label="Scale">
            <Field label="New capacity" error={capErr}>
              {(x) => <input {...x} inputMode="numeric" value={cap} onInput={(e) => setCap(e.currentTarget.value)} placeholder={String(s.capacity)} />}
            </Field>
            <button type="submit" disabled={!cap}>
              Scale
            </button>
          </form>
        </Card>
        <Card title="Autoscale">
          {!asName && <p class="muted">No autoscale setting. Add one with <code>kumo autoscale create</code>.</p>}
          <ErrorBox error={asData.error} />
          {a && (
            <>
              <KeyValues
                items={[
                  ['Setting', `${a.setting.name} (${a.setting.enabled ? 'enabled' : 'disabled'})`],
                  ['Range', `${a.setting.capacity.minimum} to ${a.setting.capacity.maximum} (default ${a.setting.capacity.default})`],
                  ['Last scale', a.setting.lastScaleAt ? fmt.time(a.setting.lastScaleAt) : 'never'],
                ]}
              />
              <ul class="plain rules">
                {a.setting.rules.map((r, i) => (
                  <li>
                    Rule {i}: {r.metricTrigger.metricName} {r.metricTrigger.timeAggregation} over {r.metricTrigger.timeWindow} {r.metricTrigger.operator} {r.metricTrigger.threshold} →{' '}
                    {r.scaleAction.direction} by {r.scaleAction.value} ({r.scaleAction.type}, cooldown {r.scaleAction.cooldown})
                  </li>
                ))}
              </ul>
            </>
          )}
        </Card>
      </div>
      <Card title="Instances">
        <ErrorBox error={inst.error} />
        <Table
          rows={inst.data?.value}
          empty="No instances."
          columns={[
            { label: 'Instance', key: 'instanceId' },
            { label: 'VM', render: (v) => <Link href={route('vms', v.resourceGroup, v.name)}>{v.name}</Link> },
            { label: 'Power state', render: (v) => <Badge state={v.powerState} /> },
            { label: 'Latest model', render: (v) => (v.latestModel ? 'yes' : 'no') },
            { label: 'Health', render: (v) => <Badge state={v.health} /> },
            { label: 'LB connections', key: 'lbConnections' },
            { label: 'Private IP', render: (v) => (v.networkInterfaces || []).map((n) => n.privateIp).join(', ') },
          ]}
        />
      </Card>
      {a && (
        <Card title="Autoscale history">
          <Table
            rows={a.history.slice().reverse()}
            empty="No evaluations yet."
            columns={[
              { label: 'When', render: (h) => <time datetime={h.at}>{fmt.time(h.lastAt || h.at)}</time> },
              { label: 'Action', render: (h) => <span class={h.action === 'None' ? 'muted' : 'strong'}>{h.action}</span> },
              { label: 'Capacity', render: (h) => (h.action === 'None' ? h.oldCapacity : `${h.oldCapacity} → ${h.newCapacity}`) },
              { label: 'Times', key: 'count' },
              { label: 'Reason', key: 'reason' },
            ]}
          />
        </Card>
      )}
    </Page>
  );
}
