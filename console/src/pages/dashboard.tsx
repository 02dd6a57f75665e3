// Dashboard: what is running and what it costs, and the two surprises Kumo exists to prevent —
// an instance forgotten for days and a cancelled spot request whose instance still runs.
import { DescribeSpotInstanceRequestsCommand } from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2, jsonCall } from "../api";
import { age, ErrorBox, PageHead, tagValue, usd, usePoll } from "../ui";
import { listInstances } from "./instances";

const DAY_MS = 24 * 3600 * 1000;

export function Dashboard({ session }: PageProps) {
  const { data, error } = usePoll(async () => {
    const [instances, spot, bill] = await Promise.all([
      listInstances(session),
      ec2(session).send(new DescribeSpotInstanceRequestsCommand({})),
      jsonCall(session, "KumoBilling.GetBill", {}).catch((e) => ({ error: e })),
    ]);
    return { instances, requests: spot.SpotInstanceRequests ?? [], bill };
  }, [session]);

  const instances = data?.instances ?? [];
  const count = (s: string) => instances.filter((i) => i.State?.Name === s).length;
  const live = (id?: string) => instances.find((i) => i.InstanceId === id && ["pending", "running"].includes(i.State?.Name ?? ""));
  const longRunning = instances.filter((i) => i.State?.Name === "running" && i.LaunchTime && Date.now() - new Date(i.LaunchTime).getTime() > DAY_MS);
  const orphaned = (data?.requests ?? []).filter((r) => ["cancelled", "closed"].includes(r.State ?? "") && live(r.InstanceId));
  const activeRequests = (data?.requests ?? []).filter((r) => r.State === "active" || r.State === "open").length;
  const bill = data?.bill && !("error" in data.bill) ? data.bill : null;
  const budget = bill?.Budget;
  const ft = bill?.FreeTier;
  const ftPercent = ft ? Math.min(100, (100 * Number(ft.HoursUsed)) / Math.max(1, Number(ft.HoursLimit))) : 0;

  return (
    <>
      <PageHead title="Dashboard">
        <a class="button-link primary" href="#/launch">
          Launch instance
        </a>
      </PageHead>
      <ErrorBox error={error} />
      {(longRunning.length > 0 || orphaned.length > 0) && (
        <section aria-label="Warnings">
          {longRunning.map((i) => (
            <div class="warning">
              <strong>Running for {age(i.LaunchTime)}:</strong> <a href="#/instances">{i.InstanceId}</a>
              {tagValue(i.Tags, "Name") && ` (${tagValue(i.Tags, "Name")})`}, {i.InstanceType}. Stop it if you are done with it.
            </div>
          ))}
          {orphaned.map((r) => (
            <div class="warning">
              <strong>Spot request {r.SpotInstanceRequestId} is {r.State}, but its instance {r.InstanceId} is still running</strong>{" "}
              and billing. <a href="#/instances">Terminate it</a> if you no longer need it.
            </div>
          ))}
        </section>
      )}
      <div class="cards">
        <a class="card card-link" href="#/instances">
          <div class="metric-label">Running instances</div>
          <div class="metric" data-testid="running-count">{data ? count("running") + count("pending") : "…"}</div>
          <div class="muted">{data ? `${count("stopped")} stopped` : ""}</div>
        </a>
        <a class="card card-link" href="#/spot">
          <div class="metric-label">Spot requests</div>
          <div class="metric">{data ? activeRequests : "…"}</div>
          <div class="muted">open or active</div>
        </a>
        <a class="card card-link" href="#/billing">
          <div class="metric-label">Month to date</div>
          <div class="metric" data-testid="month-to-date">{bill ? usd(bill.Total) : "…"}</div>
          <div class="muted">{bill ? `forecast ${usd(bill.Forecast)} for ${bill.Month}` : ""}</div>
        </a>
        <a class="card card-link" href="#/billing">
          <div class="metric-label">Free tier</div>
          {ft ? (
            <>
              <div class="metric">{Number(ft.HoursUsed).toFixed(1)} h</div>
              <div class="bar" role="progressbar" aria-label="Free tier hours used" aria-valuenow={Math.round(ftPercent)} aria-valuemin={0} aria-valuemax={100}>
                <span style={{ width: `${ftPercent}%` }}></span>
              </div>
              <div class="muted">of {Number(ft.HoursLimit).toFixed(0)} h this month</div>
            </>
          ) : (
            <div class="muted">{bill ? "Not in the free tier" : "…"}</div>
          )}
        </a>
        <a class="card card-link" href="#/billing">
          <div class="metric-label">Budget</div>
          {budget ? (
            <>
              <div class={`metric ${Number(budget.Percent) >= 100 ? "over" : Number(budget.Percent) >= 80 ? "near" : ""}`}>{Number(budget.Percent).toFixed(0)}%</div>
              <div class="muted">
                {usd(budget.Spent)} of {usd(budget.MonthlyLimit)} · {budget.Action}
              </div>
            </>
          ) : (
            <div class="muted">{bill ? "No budget set" : "…"}</div>
          )}
        </a>
      </div>
      {data?.bill && "error" in data.bill && <ErrorBox error={data.bill.error} />}
      {data && instances.length === 0 && (
        <section class="card">
          <h2>Getting started</h2>
          <ol class="steps">
            <li>
              <a href="#/key-pairs">Create a key pair</a>: its private key (.pem) downloads once; keep it.
            </li>
            <li>
              <a href="#/launch">Launch an instance</a>: pick an image and a type, On-Demand or Spot with a maximum
              price; the wizard opens SSH to your address only.
            </li>
            <li>
              On <a href="#/instances">Instances</a>, right-click it → Connect for the exact <code>ssh</code> command.
            </li>
            <li>
              Set a <a href="#/billing">budget</a> so that a forgotten instance stops itself.
            </li>
          </ol>
        </section>
      )}
      {bill && bill.Running?.length > 0 && (
        <section class="card">
          <h2>Running now</h2>
          <div class="scroll">
            <table aria-label="Running instances and their cost">
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Name</th>
                  <th>Type</th>
                  <th>Market</th>
                  <th class="num">Running for</th>
                  <th class="num">Per hour</th>
                  <th class="num">Cost so far</th>
                </tr>
              </thead>
              <tbody>
                {bill.Running.map((r: any) => (
                  <tr>
                    <td>
                      <code>{r.InstanceId}</code>
                    </td>
                    <td>{r.Name}</td>
                    <td>{r.InstanceType}</td>
                    <td>{r.Market}</td>
                    <td class="num">{Number(r.AgeHours).toFixed(1)} h</td>
                    <td class="num">{usd(r.Hourly, 4)}</td>
                    <td class="num">{usd(r.CostSoFar)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}
