// The launch wizard: image, instance type, purchase option (On-Demand or spot), storage, tags,
// security group, key pair, review. Every choice lives in the wizard's state (useLaunchWizard, in
// launch_state.ts), held here above the steps, so that moving between steps (or a failed launch)
// keeps it. This file is the frame: step list, panel, navigation, summary and the success page;
// the panels are in launch_steps.tsx and launch_review.tsx, loaders and formatting in launch_data.ts.
import { useEffect, useRef } from "preact/hooks";
import type { PageProps } from "../main";
import { ErrorBox, PageHead } from "../ui";
import { STEPS, imageLabel } from "./launch_data";
import { useLaunchWizard } from "./launch_state";
import { groupStep, imageStep, keyStep, purchaseStep, storageStep, tagsStep, typeStep } from "./launch_steps";
import { reviewStep } from "./launch_review";
import "./launch.css";

export { perHour } from "./launch_data";

// ---------------------------------------------------------------------------------------------
// The wizard

export function Launch({ session }: PageProps) {
  const w = useLaunchWizard(session);
  const {
    step, visited, problem, type, market, size, sgMode, sgIds, sgName, kpMode, keyName, busy, error,
    setError, result, setResult, image, typeInfo, free, problemOf, go, next, launch, priceSummary,
  } = w;

  // Focus the step's heading when the step changes (not on first show: the shell focuses main).
  const headRef = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    headRef.current?.focus();
  }, [step, result]);

  const bodies = [imageStep, typeStep, purchaseStep, storageStep, tagsStep, groupStep, keyStep, reviewStep];

  // ------------------------------------------------------------------ layout

  if (result) {
    return (
      <div class="lw-page">
        <PageHead title="Launch instance" />
        <section class="card lw-success" aria-labelledby="lw-success-title">
          <h2 id="lw-success-title" tabIndex={-1} ref={headRef}>
            ✓ {result.ids.length === 1 ? "Instance launched" : "Instances launched"}
          </h2>
          <p>
            {result.ids.map((id) => (
              <code class="lw-id">{id}</code>
            ))}{" "}
            {result.ids.length === 1 ? "is" : "are"} starting. {result.spot ? "It runs as a spot instance." : ""}
          </p>
          {result.key && (
            <p class="muted">
              Once it is running, log in with <code>ssh -i {result.key}.pem admin@&lt;public IP&gt;</code> (the user name
              depends on the image).
            </p>
          )}
          <div class="actions">
            <a class="lw-button primary" href="#/instances">
              View instances
            </a>
            {result.spot && (
              <a class="lw-button" href="#/spot">
                View spot requests
              </a>
            )}
            <button
              type="button"
              onClick={() => {
                setResult(null);
                go(STEPS.length - 1);
              }}
            >
              Launch another
            </button>
          </div>
        </section>
      </div>
    );
  }

  const last = step === STEPS.length - 1;
  return (
    <div class="lw-page">
      <PageHead title="Launch instance" />
      <div class="lw-steps" role="navigation" aria-label="Launch steps">
        <div class="lw-steps-mobile" aria-hidden="true">
          Step {step + 1} of {STEPS.length}
          <div class="lw-bar">
            <span style={{ width: `${((step + 1) / STEPS.length) * 100}%` }} />
          </div>
        </div>
        <ol>
          {STEPS.map((s, i) => {
            const done = i !== step && i <= Math.max(visited, step) && !problemOf(i);
            return (
              <li class={`${i === step ? "current" : ""} ${done ? "done" : ""}`}>
                <button type="button" aria-current={i === step ? "step" : undefined} onClick={() => go(i)}>
                  <span class="lw-num" aria-hidden="true">
                    {done && i !== step ? "✓" : i + 1}
                  </span>
                  <span class="sr-only">Step {i + 1}: </span>
                  <span class="lw-step-label">{s}</span>
                </button>
              </li>
            );
          })}
        </ol>
      </div>
      <div class={`lw-body ${last ? "lw-solo" : ""}`}>
        <section class="card lw-panel" aria-labelledby="lw-step-title">
          <h2 id="lw-step-title" tabIndex={-1} ref={headRef}>
            <span class="lw-step-no">{step + 1}.</span> {STEPS[step]}
          </h2>
          {bodies[step](w)}
          {problem && (
            <div class="lw-problem" role="alert">
              {problem}
            </div>
          )}
          {last && <ErrorBox error={error} onClose={() => setError(null)} />}
          <div class="lw-nav">
            <button type="button" onClick={() => go(step - 1)} disabled={step === 0 || !!busy}>
              Back
            </button>
            <span class="lw-nav-gap" />
            {!last && step < STEPS.length - 2 && (
              <button type="button" class="link lw-skip" onClick={() => go(STEPS.length - 1)}>
                Skip to review
              </button>
            )}
            {last ? (
              <button type="button" class="primary lw-launch" onClick={launch} disabled={!!busy}>
                {busy ? busy : "Launch instance"}
              </button>
            ) : (
              <button type="button" class="primary" onClick={next}>
                Next
              </button>
            )}
          </div>
        </section>
        {!last && (
          <aside class="card lw-summary" aria-label="Summary">
            <h2>Summary</h2>
            <dl>
              <dt>Image</dt>
              <dd>{imageLabel(image) || "—"}</dd>
              <dt>Instance type</dt>
              <dd>
                {type || "—"} {free(typeInfo) && <span class="badge free">Free tier</span>}
              </dd>
              <dt>Purchase</dt>
              <dd>{market === "spot" ? "Spot" : "On-Demand"}</dd>
              <dt>Storage</dt>
              <dd>{size || "—"} GiB gp3</dd>
              <dt>Security group</dt>
              <dd>{sgMode === "new" ? `new: ${sgName}` : sgIds.length ? `${sgIds.length} selected` : "default"}</dd>
              <dt>Key pair</dt>
              <dd>{kpMode === "existing" ? keyName : kpMode === "create" ? "to create" : kpMode === "none" ? "none" : "—"}</dd>
            </dl>
            <div class="lw-summary-price">
              <span class="metric-label">Price</span>
              <strong>{priceSummary()}</strong>
            </div>
          </aside>
        )}
      </div>
    </div>
  );
}
