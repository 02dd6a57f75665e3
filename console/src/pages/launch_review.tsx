// The launch wizard's last step, the review: every choice with a link back to its step, and the price.
import type { ComponentChildren } from "preact";
import { gib, gpuText, imageLabel, monthly, perHour } from "./launch_data";
import type { Wizard } from "./launch_state";

export function reviewStep(w: Wizard) {
  const {
    groups, imageId, type, market, maxPrice, size, sgMode, sgIds, sgName, sshFrom, kpMode, keyName, image,
    typeInfo, free, od, sshSource, maxPriceNum, tagList, go, priceSummary,
  } = w;
  const Row = (p: { label: string; edit: number; children: ComponentChildren }) => (
    <div class="lw-review-row">
      <dt>{p.label}</dt>
      <dd>{p.children}</dd>
      <dd class="lw-review-edit">
        <button type="button" class="link" aria-label={`Edit ${p.label.toLowerCase()}`} onClick={() => go(p.edit)}>
          Edit
        </button>
      </dd>
    </div>
  );
  return (
    <>
      <p class="lw-lead">Check the instance, then launch it.</p>
      <dl class="lw-review">
        <Row label="Image" edit={0}>
          <strong>{imageLabel(image)}</strong> <span class="mono muted">{imageId}</span>
        </Row>
        <Row label="Instance type" edit={1}>
          <strong>{type}</strong>{" "}
          <span class="muted">
            {typeInfo?.VCpuInfo?.DefaultVCpus ?? "—"} vCPU · {gib(typeInfo?.MemoryInfo?.SizeInMiB)}
            {gpuText(typeInfo) !== "—" ? ` · ${gpuText(typeInfo)}` : ""}
          </span>{" "}
          {free(typeInfo) && <span class="badge free">Free tier</span>}
        </Row>
        <Row label="Purchase option" edit={2}>
          {market === "spot" ? (
            <>
              <span class="badge spot">Spot</span> max price{" "}
              {maxPrice.trim()
                ? `${perHour(maxPriceNum)}/h`
                : `the On-Demand price${od !== undefined ? ` (${perHour(od)}/h)` : ""}`}
            </>
          ) : (
            "On-Demand"
          )}
        </Row>
        <Row label="Storage" edit={3}>
          {size} GiB gp3 root volume <span class="mono muted">{image?.RootDeviceName ?? "/dev/xvda"}</span>, deleted on termination
        </Row>
        <Row label="Tags" edit={4}>
          {tagList.length ? (
            <span class="lw-tag-list">
              {tagList.map((t) => (
                <span class="lw-chip">
                  {t.Key}
                  {t.Value ? ` = ${t.Value}` : ""}
                </span>
              ))}
            </span>
          ) : (
            <span class="muted">None</span>
          )}
        </Row>
        <Row label="Security group" edit={5}>
          {sgMode === "new" ? (
            <>
              New group <strong>{sgName}</strong>: SSH from <span class="mono">{sshSource || "—"}</span>
              {sshFrom === "anywhere" && <span class="badge spot lw-ml">open to the internet</span>}
            </>
          ) : sgIds.length ? (
            sgIds
              .map((id) => {
                const g = groups.data?.find((x) => x.GroupId === id);
                return g ? `${g.GroupName} (${id})` : id;
              })
              .join(", ")
          ) : (
            <span class="muted">The VPC's default group</span>
          )}
        </Row>
        <Row label="Key pair" edit={6}>
          {kpMode === "existing" ? (
            <strong>{keyName}</strong>
          ) : (
            <span class="lw-warn-text">None: SSH login will not be possible</span>
          )}
        </Row>
      </dl>
      <div class="lw-cost">
        <div>
          <div class="metric-label">{market === "spot" ? "Spot price" : "On-Demand price"}</div>
          <div class="lw-cost-value" data-testid="launch-price">
            {priceSummary()}
          </div>
          {market === "on-demand" && od !== undefined && <div class="muted">≈ {monthly(od)} a month if left running</div>}
          {market === "spot" && <div class="muted">You pay the spot price of the hour, never more than the max.</div>}
        </div>
        {free(typeInfo) && market === "on-demand" && (
          <div class="lw-free">
            <span class="badge free">Free tier</span> {type} hours are covered by the free tier while it lasts.
          </div>
        )}
      </div>
    </>
  );
}
